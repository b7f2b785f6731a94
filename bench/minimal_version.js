/**
 * Not codexd: the least a Deno program must do to answer `version` for a
 * running app-server, for the bench's floor. It resolves CODEX_HOME, reads the
 * pid record and the binary cache, connects to the control socket, upgrades
 * to WebSocket, initializes as the daemon and prints one JSON line — with
 * none of codexd's checks (home safety, impostor sockets, pid identity,
 * bounded waits, coded errors). Whatever this takes is out of reach of any
 * Deno implementation on the same machine.
 *
 * @module
 */
const home = Deno.env.get("CODEX_HOME");
const state = `${home}/app-server-daemon`;
const socket = `${home}/app-server-control/app-server-control.sock`;
const encoder = new TextEncoder();
const connecting = Deno.connect({ transport: "unix", path: socket });
const record = JSON.parse(Deno.readTextFileSync(`${state}/app-server.pid`));
const cache = JSON.parse(Deno.readTextFileSync(`${state}/managed-binary.json`));
const conn = await connecting;
await conn.write(encoder.encode(
  "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
));
const buffer = new Uint8Array(65536);
await conn.read(buffer);
const body = encoder.encode(JSON.stringify({
  id: 1,
  method: "initialize",
  params: { clientInfo: { name: "codex_app_server_daemon", version: "0" } },
}));
// One masked text frame (16-bit length, zero mask).
const frame = new Uint8Array(8 + body.length);
frame.set([0x81, 0x80 | 126, body.length >> 8, body.length & 255]);
frame.set(body, 8);
await conn.write(frame);
const n = await conn.read(buffer) ?? 0;
const text = new TextDecoder().decode(buffer.subarray(4, n));
const userAgent = /"userAgent":"([^"]*)"/.exec(text)?.[1] ?? "";
conn.close();
Deno.stdout.writeSync(encoder.encode(
  JSON.stringify({
    status: "running",
    pid: record.pid,
    managedCodexVersion: cache[0]?.version ?? null,
    socketPath: socket,
    appServerVersion: userAgent.split("/")[1]?.split(" ")[0] ?? null,
  }) + "\n",
));
