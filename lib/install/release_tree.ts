/**
 * Sealing an extracted release directory before it may become `current`:
 * everything in it stays in it (no absolute, dangling or escaping symlinks;
 * no fifos, sockets or devices), setuid/setgid/sticky bits are cleared, the
 * binary `bin/codex` is a regular file in a real `bin/` directory, and the
 * top-level `codex` (what `current/codex` launches) is the link `bin/codex`.
 * Touches only the directory it is given.
 *
 * @module
 */
import { join } from "../state/paths.ts";

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

async function walk(root: string, dir: string): Promise<string | undefined> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    const shown = path.slice(root.length + 1);
    if (entry.isSymlink) {
      const target = await Deno.readLink(path);
      if (target.startsWith("/")) return `${shown} is an absolute symlink to ${target}`;
      let real: string;
      try {
        real = await Deno.realPath(path);
      } catch {
        return `${shown} is a dangling symlink to ${target}`;
      }
      if (!inside(root, real)) return `${shown} is a symlink leaving the release (${target})`;
      continue;
    }
    const info = await Deno.lstat(path);
    if (!info.isFile && !info.isDirectory) return `${shown} is not a file, directory or link`;
    const mode = info.mode ?? 0;
    // Never install a setuid binary, whatever the tarball says.
    if ((mode & 0o7000) !== 0) await Deno.chmod(path, mode & 0o777);
    if (info.isDirectory) {
      const problem = await walk(root, path);
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

/**
 * Checks and seals the release at `dir`, creating the `codex -> bin/codex`
 * alias when the package has none. Returns what is wrong, or `undefined`.
 */
export async function sealRelease(dir: string): Promise<string | undefined> {
  const root = await Deno.realPath(dir);
  const problem = await walk(root, root);
  if (problem !== undefined) return problem;
  const bin = await Deno.lstat(join(root, "bin")).catch(() => undefined);
  if (!bin?.isDirectory) return "bin is not a directory";
  const codex = await Deno.lstat(join(root, "bin", "codex")).catch(() => undefined);
  if (!codex?.isFile) return "bin/codex is not a regular file";
  const alias = join(root, "codex");
  const existing = await Deno.lstat(alias).catch(() => undefined);
  if (existing === undefined) {
    // install.sh's alias: `current/codex` works for both layouts.
    await Deno.symlink("bin/codex", alias);
  } else if (!existing.isSymlink || (await Deno.readLink(alias)) !== "bin/codex") {
    return "the package's top-level codex is not the link bin/codex";
  }
  return undefined;
}
