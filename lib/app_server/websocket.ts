/**
 * A minimal WebSocket client (RFC 6455) over an already connected stream:
 * the control socket of the app-server speaks WebSocket over a Unix socket.
 *
 * Hand-written (about a hundred lines) because codexd says little over it and
 * any library import would cost start-up time on every CLI call.
 *
 * @module
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Random bytes for the frame mask and the handshake key. `Math.random`, not
 * `crypto.getRandomValues` (~0.3 ms on first use, measured): RFC 6455 wants
 * unpredictable masks to stop browser-side proxy cache poisoning, which a
 * Unix socket to the local app-server cannot suffer.
 */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}

/** Encodes one masked client frame (RFC 6455 §5.2). */
export function encodeClientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + extra + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) {
    frame[1] = 0x80 | length;
  } else if (extra === 2) {
    frame[1] = 0x80 | 126;
    new DataView(frame.buffer).setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const maskAt = 2 + extra;
  const mask = randomBytes(4);
  frame.set(mask, maskAt);
  for (let i = 0; i < length; i++) {
    frame[maskAt + 4 + i] = payload[i] ^ mask[i & 3];
  }
  return frame;
}

/** One decoded frame and how many bytes it used. */
export interface DecodedFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
  size: number;
}

/** Decodes one frame from the start of `buffer`; `undefined` if incomplete. */
export function decodeFrame(buffer: Uint8Array): DecodedFrame | undefined {
  if (buffer.length < 2) return undefined;
  const fin = (buffer[0] & 0x80) !== 0;
  const opcode = buffer[0] & 0x0f;
  const masked = (buffer[1] & 0x80) !== 0;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = view.getUint16(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(view.getBigUint64(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return undefined;
  const payload = buffer.slice(offset, offset + length);
  if (masked) {
    for (let i = 0; i < length; i++) payload[i] ^= buffer[maskAt + (i & 3)];
  }
  return { fin, opcode, payload, size: offset + length };
}

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * A random `Sec-WebSocket-Key`: the base64 form of 16 bytes, spelled out
 * directly because `btoa` costs ~2.5 ms on first use (measured) and this runs
 * on every CLI call. The last character before `==` carries only 2 bits.
 */
export function handshakeKey(): string {
  const bytes = randomBytes(22);
  let key = "";
  for (let i = 0; i < 21; i++) key += BASE64_ALPHABET[bytes[i] & 63];
  return key + "AQgw"[bytes[21] & 3] + "==";
}

function textFrame(text: string): Uint8Array {
  return encodeClientFrame(0x1, encoder.encode(text));
}

/** A close frame with status 1000 (normal closure). */
function closeFrame(): Uint8Array {
  return encodeClientFrame(0x8, new Uint8Array([0x03, 0xe8]));
}

/** The parts in one new array (the only part itself when there is one). */
function joinBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Where the HTTP head ends (`\r\n\r\n`), or -1: bytes, so no decoding of what follows. */
function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** A minimal WebSocket session over an already connected stream ({@linkcode openWebSocketSession}). */
export interface WebSocketSession {
  /**
   * Upgrades the connection. Nothing may follow the request before the
   * server's `101`: the app-server drops a connection whose first packet
   * carries a frame after the request (measured with 0.169.0).
   */
  handshake(): Promise<void>;
  /** Sends text messages in one write, then a close frame when `close` is set. */
  sendTexts(texts: string[], close?: boolean): Promise<void>;
  /** Sends one text message. */
  sendText(text: string): Promise<void>;
  /** Sends a close frame (status 1000); the server's reply is not awaited. */
  close(): Promise<void>;
  /** The next text message (answering pings on the way). */
  readText(): Promise<string>;
}

/**
 * Starts a session on `conn`. Closures, not a class: the bundle compiles
 * a hot function's inner functions with it into Deno's code cache
 * (`scripts/eager.ts`), which a class's methods cannot be, and every client
 * call runs these (~0.1 ms of lazy compiles saved, measured).
 */
export function openWebSocketSession(conn: Deno.Conn): WebSocketSession {
  let buffer: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);

  const fill = async (): Promise<void> => {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("app-server closed the control socket");
    buffer = joinBytes([buffer, chunk.subarray(0, n)]);
  };

  const writeAll = async (bytes: Uint8Array): Promise<void> => {
    let written = 0;
    while (written < bytes.length) {
      written += await conn.write(bytes.subarray(written));
    }
  };

  const sendTexts = async (texts: string[], close = false): Promise<void> => {
    const frames = texts.map(textFrame);
    if (close) frames.push(closeFrame());
    await writeAll(joinBytes(frames));
  };

  return {
    handshake: async (): Promise<void> => {
      const request = encoder.encode(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
          `Sec-WebSocket-Key: ${handshakeKey()}\r\n\r\n`,
      );
      await writeAll(request);
      let end = -1;
      while (end < 0) {
        await fill();
        end = indexOfHeadEnd(buffer);
      }
      const head = decoder.decode(buffer.subarray(0, end));
      if (!/^HTTP\/1\.1 101\b/.test(head)) {
        throw new Error(`WebSocket upgrade refused: ${head.split("\r\n")[0]}`);
      }
      buffer = buffer.slice(end + 4);
    },
    sendTexts,
    sendText: (text: string): Promise<void> => sendTexts([text]),
    close: async (): Promise<void> => {
      await writeAll(closeFrame()).catch(() => {});
    },
    readText: async (): Promise<string> => {
      let message: Uint8Array = new Uint8Array(0);
      while (true) {
        const frame = decodeFrame(buffer);
        if (frame === undefined) {
          await fill();
          continue;
        }
        buffer = buffer.slice(frame.size);
        if (frame.opcode === 0x8) {
          throw new Error("app-server closed the WebSocket");
        }
        if (frame.opcode === 0x9) {
          await writeAll(encodeClientFrame(0xa, frame.payload));
          continue;
        }
        if (frame.opcode === 0x1 || frame.opcode === 0x0) {
          message = joinBytes([message, frame.payload]);
          if (frame.fin) return decoder.decode(message);
        }
      }
    },
  };
}
