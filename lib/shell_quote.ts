/**
 * Quoting a word for a POSIX shell, for hints a user copies into a terminal
 * (`chmod +x '/path with spaces/codex'`). Touches no files.
 *
 * @module
 */

/** Returns `word` as one POSIX shell word: bare when it is plainly safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
