/**
 * "Is it there?" for the state files that are usually absent, answered from
 * one listing of the state directory: taken when `daemon.lock` is taken, or
 * by `version` for the instant of its reads.
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
 * release; without it every question goes to the file system. A read-only
 * command's listing is what the directory held a moment before its reads,
 * as if it had read then.
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

/**
 * Lists `dir` now (its lock just taken, or for a read-only command's reads)
 * and returns what drops this listing — only this one: a listing taken since
 * (a lock taken meanwhile) stays. A directory that cannot be listed: none.
 */
export function takeListing(dir: string): () => void {
  const names = new Set<string>();
  try {
    for (const entry of Deno.readDirSync(dir)) names.add(entry.name);
  } catch {
    listings.delete(dir);
    return () => {};
  }
  listings.set(dir, names);
  return () => {
    if (listings.get(dir) === names) listings.delete(dir);
  };
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
