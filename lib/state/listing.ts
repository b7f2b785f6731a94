/**
 * "Is it there?" for the state files that are usually absent, answered from
 * one listing of the state directory taken when `daemon.lock` is taken.
 *
 * Why: a failed `stat` costs ~0.4 ms the first time in a process (Deno
 * builds its first `NotFound`; later ones ~0.06 ms, measured), and `start`
 * on a home with none of `settings.json`, `down` and `pending-restart.json`
 * met three; one listing costs ~0.1 ms and never throws.
 *
 * Why the answer is exact: only those names are answered, each is written
 * only by commands that hold the lock (codexd's, or the reference's for
 * `settings.json`, under the same `daemon.lock`), and this process writes
 * them only through `atomic_file.ts`, which tells this module
 * ({@linkcode notePresence}). The listing lives from the lock's taking to its
 * release; without it every question goes to the file system.
 *
 * @module
 */

/** The names a listing answers for: state files written only under the lock. */
const ANSWERED: ReadonlySet<string> = new Set(["settings.json", "down", "pending-restart.json"]);

/** State directory → the names in it, while this process holds its lock. */
const listings = new Map<string, Set<string>>();

/** Splits `path` at its last `/`: the directory and the name. */
function split(path: string): [string, string] {
  const slash = path.lastIndexOf("/");
  return [path.slice(0, Math.max(0, slash)), path.slice(slash + 1)];
}

/** Lists `dir` now that its lock is held (a directory that cannot be listed: no listing). */
export function listWhileLocked(dir: string): void {
  try {
    const names = new Set<string>();
    for (const entry of Deno.readDirSync(dir)) names.add(entry.name);
    listings.set(dir, names);
  } catch {
    listings.delete(dir);
  }
}

/** Drops `dir`'s listing: its lock is released. */
export function forgetListing(dir: string): void {
  listings.delete(dir);
}

/**
 * Whether the listing says `path` is not there. `false` means "ask the file
 * system": a name the listing does not answer for, or no listing.
 */
export function knownAbsent(path: string): boolean {
  const [dir, name] = split(path);
  if (!ANSWERED.has(name)) return false;
  const names = listings.get(dir);
  return names !== undefined && !names.has(name);
}

/** Keeps a listing current: this process created (`true`) or removed (`false`) `path`. */
export function notePresence(path: string, present: boolean): void {
  const [dir, name] = split(path);
  const names = listings.get(dir);
  if (names === undefined) return;
  if (present) names.add(name);
  else names.delete(name);
}
