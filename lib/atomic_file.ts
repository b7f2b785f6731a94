/**
 * Atomic writes: every state file codexd owns is written to a temp file in the
 * same directory and renamed over the target, so a reader (or a crash) never
 * sees half a file.
 *
 * @module
 */

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the result. @default {0o600} */
  mode?: number;
}

/** Writes `text` to `path` via a uniquely named temp file and a rename. */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const { mode = 0o600 } = options;
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(temp, text, { mode, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Removes `path`; a file that is already gone counts as success. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Reads `path` as text, or returns `undefined` when it does not exist.
 * Synchronous on purpose: state files are a few hundred bytes, and a sync
 * read skips the async op machinery that costs ~1 ms per first use on every
 * CLI call (measured).
 */
export function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return Promise.resolve(Deno.readTextFileSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return Promise.resolve(undefined);
    return Promise.reject(error);
  }
}
