/**
 * The app-server's WebSocket framing (`lib/app_server/websocket.ts`): the
 * client frame codec and the handshake key.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { decodeFrame, encodeClientFrame, handshakeKey } from "../../lib/app_server/websocket.ts";

Deno.test("encodeClientFrame() and decodeFrame() round-trip every length class", () => {
  for (const length of [0, 5, 125, 126, 65535, 65536, 70000]) {
    const payload = new Uint8Array(length).map((_, i) => i & 0xff);
    const frame = encodeClientFrame(0x1, payload);
    const decoded = decodeFrame(frame);
    assert(decoded !== undefined);
    assertEquals(decoded.size, frame.length);
    assertEquals(decoded.opcode, 1);
    assertEquals(decoded.fin, true);
    assertEquals(decoded.payload, payload);
    assertEquals(decodeFrame(frame.subarray(0, frame.length - 1)), undefined);
  }
});

Deno.test("handshakeKey() is the base64 form of 16 bytes", () => {
  for (let i = 0; i < 20; i++) {
    const key = handshakeKey();
    assertMatch(key, /^[A-Za-z0-9+/]{22}==$/);
    assertEquals(atob(key).length, 16);
  }
});
