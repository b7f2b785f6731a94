/**
 * The state directory's listing under `daemon.lock` (`lib/state/listing.ts`):
 * it answers only for the names written under the lock, it is taken when
 * the lock is taken and dropped at release, and this process's own writes
 * and removals keep it current — so "is it there?" reads the same as a
 * `stat` would, without a failed one.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { knownAbsent, takeListing } from "../../lib/state/listing.ts";
import { acquireDaemonLock } from "../../lib/state/daemon_lock.ts";
import {
  pathExists,
  readStateFileSync,
  removeIfPresent,
  writeFileAtomic,
} from "../../lib/state/atomic_file.ts";
import { daemonPaths } from "../../lib/state/paths.ts";
import { DOWN_FILE } from "../../lib/state/down_marker.ts";

Deno.test("knownAbsent() answers only for the names written under the lock, and only with a listing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-listing-" });
  try {
    await Deno.writeTextFile(`${dir}/settings.json`, "{}");
    const table: [string, boolean][] = [
      [`${dir}/settings.json`, false], // there
      [`${dir}/down`, true], // answered for, absent
      [`${dir}/pending-restart.json`, true],
      [`${dir}/app-server.pid`, false], // not answered for: ask the file system
      [`${dir}/sub/down`, false], // another directory: no listing
    ];
    for (const [path] of table) assertEquals(knownAbsent(path), false, `${path} before listing`);
    const forget = takeListing(dir);
    for (const [path, absent] of table) assertEquals(knownAbsent(path), absent, path);
    forget();
    for (const [path] of table) assertEquals(knownAbsent(path), false, `${path} after release`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under the lock, this process's writes and removals read back as a stat would", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-listing-" });
  try {
    await Deno.writeTextFile(`${dir}/pending-restart.json`, "{}\n"); // there before the lock
    await using _lock = await acquireDaemonLock(`${dir}/daemon.lock`);
    assert(pathExists(`${dir}/pending-restart.json`, { follow: false }));
    assert(!pathExists(`${dir}/down`, { follow: false }));
    assertEquals(readStateFileSync(`${dir}/settings.json`), undefined);

    await writeFileAtomic(`${dir}/down`, "stopped\n");
    await writeFileAtomic(`${dir}/settings.json`, '{"shutdownGraceSeconds":5}\n');
    assert(pathExists(`${dir}/down`, { follow: false }));
    assertEquals(readStateFileSync(`${dir}/settings.json`), '{"shutdownGraceSeconds":5}\n');

    await removeIfPresent(`${dir}/down`);
    await removeIfPresent(`${dir}/pending-restart.json`);
    await removeIfPresent(`${dir}/pending-restart.json`); // already gone: still fine
    assert(!pathExists(`${dir}/down`, { follow: false }));
    assert(!pathExists(`${dir}/pending-restart.json`, { follow: false }));
    for (const name of ["down", "pending-restart.json", "settings.json"]) {
      const there = pathExists(`${dir}/${name}`, { follow: false });
      let onDisk = true;
      try {
        Deno.lstatSync(`${dir}/${name}`);
      } catch {
        onDisk = false;
      }
      assertEquals(there, onDisk, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after the lock is released, a file another process made is seen at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-listing-" });
  try {
    const lock = await acquireDaemonLock(`${dir}/daemon.lock`);
    assert(!pathExists(`${dir}/down`, { follow: false }));
    await lock.release();
    // Written behind this module's back (another command, after the release).
    await Deno.writeTextFile(`${dir}/down`, "stopped\n");
    assert(pathExists(`${dir}/down`, { follow: false }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("forgetting a listing drops only that one: a lock's, taken since, stays", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-listing-" });
  try {
    const forgetRead = takeListing(dir); // a read-only command's
    await using _lock = await acquireDaemonLock(`${dir}/daemon.lock`); // re-lists, and owns it
    await writeFileAtomic(`${dir}/down`, "stopped\n");
    forgetRead(); // the read-only command is done: the lock's listing must stay current
    assert(knownAbsent(`${dir}/pending-restart.json`), "the lock's listing was dropped");
    assert(pathExists(`${dir}/down`, { follow: false }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the listing answers for the very files paths.ts and the down marker name", async () => {
  const home = await Deno.makeTempDir({ prefix: "codexd-listing-" });
  try {
    const paths = daemonPaths(home);
    await Deno.mkdir(paths.stateDir);
    const forget = takeListing(paths.stateDir);
    try {
      for (
        const file of [
          paths.settingsFile,
          paths.pendingRestartFile,
          `${paths.stateDir}/${DOWN_FILE}`,
        ]
      ) {
        assert(knownAbsent(file), `${file}: the listing does not answer for it`);
      }
    } finally {
      forget();
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
