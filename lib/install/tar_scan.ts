/**
 * Reads a gzip tarball's headers before anything is extracted, so a hostile
 * package is refused without writing a byte: member names that are absolute
 * or contain `..`, links leaving the archive, members written through a
 * symlink, device/fifo members, corrupt headers (tar would skip them and
 * resynchronise, hiding members from a naive scan), and more members or
 * more unpacked bytes than {@linkcode EXTRACT_MAX_ENTRIES} /
 * {@linkcode EXTRACT_MAX_BYTES} (decompression bombs: decompression stops at
 * the cap). Understands ustar, pax (`path`, `linkpath`, `size`) and GNU long
 * names. Reads only the file it is given.
 *
 * @module
 */

/** Most bytes a release may unpack to (codex 0.169.0 unpacks to ~400 MB). */
export const EXTRACT_MAX_BYTES = 4 * 1024 ** 3;
/** Most members a release tarball may have (codex 0.169.0 has ~60). */
export const EXTRACT_MAX_ENTRIES = 20_000;

/** Caps of {@linkcode scanTarball}. */
export interface TarLimits {
  /** @default {EXTRACT_MAX_BYTES} */
  maxBytes?: number;
  /** @default {EXTRACT_MAX_ENTRIES} */
  maxEntries?: number;
}

/** One member as tar will see it. */
export interface TarMember {
  /** Path inside the archive, as stored. */
  name: string;
  /** ustar type flag (`0` file, `5` directory, `2` symlink, `1` hardlink, …). */
  type: string;
  /** Link target for `1` and `2`. */
  linkname: string;
  /** Data size in bytes. */
  size: number;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function numeric(header: Uint8Array, start: number, length: number): number {
  if (header[start] & 0x80) {
    // GNU base-256: big-endian after the marker bit.
    let value = header[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + header[i];
    return value;
  }
  const text = field(header, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(header: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  return numeric(header, 148, 8) === sum;
}

/** pax records `<len> <key>=<value>\n`. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  const text = decoder.decode(data);
  for (const line of text.split("\n")) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (match) records.set(match[1], match[2]);
  }
  return records;
}

/**
 * What is wrong with one member, or `undefined`: an absolute name, a `..`
 * component, a type tar would turn into a device or fifo, a symlink leaving
 * the archive, a hardlink to outside.
 */
export function memberProblem(member: TarMember): string | undefined {
  const { name, type, linkname } = member;
  const parts = name.split("/");
  if (name.startsWith("/")) return `${JSON.stringify(name)} is an absolute path`;
  if (parts.includes("..")) return `${JSON.stringify(name)} contains ".."`;
  if (type === "2") {
    if (linkname.startsWith("/")) return `symlink ${name} -> ${linkname} is absolute`;
    const resolved = parts.slice(0, -1).filter((p) => p !== "" && p !== ".");
    for (const part of linkname.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === ".." && resolved.pop() === undefined) {
        return `symlink ${name} -> ${linkname} leaves the package`;
      }
      if (part !== "..") resolved.push(part);
    }
    return undefined;
  }
  if (type === "1") {
    if (linkname.startsWith("/") || linkname.split("/").includes("..")) {
      return `hardlink ${name} -> ${linkname} leaves the package`;
    }
    return undefined;
  }
  if (!["0", "\0", "", "7", "5"].includes(type)) {
    return `${name} has tar type "${type}" (only files, directories and links are allowed)`;
  }
  return undefined;
}

/** Reads exact byte counts from a stream, counting everything read. */
class Bytes {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  total = 0;
  constructor(stream: ReadableStream<Uint8Array>, readonly cap: number) {
    this.#reader = stream.getReader();
  }
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      const { value, done } = await this.#reader.read();
      if (done) return false;
      this.total += value.length;
      if (this.total > this.cap) throw new Error(`it unpacks to more than ${this.cap} bytes`);
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }
  /** Exactly `n` bytes, or `undefined` at a clean end of stream. */
  async read(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(n))) {
      if (this.#buffered === 0) return undefined;
      throw new Error("it ends in the middle of a member");
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, take), at);
      at += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#buffered -= n;
    return out;
  }
  async skip(n: number): Promise<void> {
    for (let left = n; left > 0;) {
      const step = Math.min(left, 1 << 20);
      if ((await this.read(step)) === undefined) {
        throw new Error("it ends in the middle of a member");
      }
      left -= step;
    }
  }
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * Scans the gzip tarball `file` and returns its members, or throws an
 * `Error` saying why it must not be extracted (the caller wraps it).
 */
export async function scanTarball(
  file: string,
  limits: TarLimits = {},
  signal?: AbortSignal,
): Promise<TarMember[]> {
  const { maxBytes = EXTRACT_MAX_BYTES, maxEntries = EXTRACT_MAX_ENTRIES } = limits;
  const source = await Deno.open(file, { read: true });
  // Headers and padding add a little to the unpacked total.
  const bytes = new Bytes(
    source.readable.pipeThrough(new DecompressionStream("gzip")),
    maxBytes + 64 * 1024 * 1024,
  );
  const members: TarMember[] = [];
  let unpacked = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const header = await bytes.read(BLOCK);
      if (header === undefined) break;
      // tar reads past a lone zero block, so the scan does too.
      if (header.every((b) => b === 0)) continue;
      if (!checksumOk(header)) {
        throw new Error(`a header checksum is wrong after ${members.length} members`);
      }
      const type = String.fromCharCode(header[156]);
      let size = numeric(header, 124, 12);
      if (type === "x" || type === "g" || type === "L" || type === "K") {
        if (size > 1024 * 1024) throw new Error(`a ${type} header of ${size} bytes`);
        const data = (await bytes.read(Math.ceil(size / BLOCK) * BLOCK))?.subarray(0, size);
        if (data === undefined) throw new Error("it ends in the middle of a member");
        if (type === "x") pax = paxRecords(data);
        else if (type === "g") {
          const global = paxRecords(data);
          if (global.has("path") || global.has("linkpath")) {
            throw new Error("a global pax header renames members");
          }
        } else if (type === "L") longName = field(data, 0, data.length);
        else longLink = field(data, 0, data.length);
        continue;
      }
      const prefix = decoder.decode(header.subarray(257, 262)) === "ustar"
        ? field(header, 345, 155)
        : "";
      const stored = field(header, 0, 100);
      const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${stored}` : stored);
      const linkname = pax.get("linkpath") ?? longLink ?? field(header, 157, 100);
      if (pax.has("size")) size = Number(pax.get("size"));
      pax = new Map();
      longName = longLink = undefined;
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${name} has size ${size}`);
      const member = { name, type, linkname, size };
      const problem = memberProblem(member);
      if (problem !== undefined) throw new Error(problem);
      members.push(member);
      if (members.length > maxEntries) throw new Error(`it has more than ${maxEntries} members`);
      // Links and directories carry no data, whatever their size field says.
      const data = type === "0" || type === "\0" || type === "" || type === "7" ? size : 0;
      unpacked += data;
      if (unpacked > maxBytes) throw new Error(`it unpacks to more than ${maxBytes} bytes`);
      await bytes.skip(Math.ceil(data / BLOCK) * BLOCK);
    }
  } finally {
    await bytes.cancel();
  }
  const problem = throughSymlink(members);
  if (problem !== undefined) throw new Error(problem);
  return members;
}

/** A member written through a symlink member would land wherever the link points. */
export function throughSymlink(members: TarMember[]): string | undefined {
  const parts = (name: string): string[] => name.split("/").filter((p) => p !== "" && p !== ".");
  const links = new Set(members.filter((m) => m.type === "2").map((m) => parts(m.name).join("/")));
  for (const { name } of members) {
    const path = parts(name);
    for (let i = 1; i < path.length; i++) {
      const dir = path.slice(0, i).join("/");
      if (links.has(dir)) return `${name} would be written through the symlink ${dir}`;
    }
  }
  return undefined;
}
