/**
 * The Deno permissions codexd needs, checked up front. On Linux codexd reads
 * `/proc/PID/stat` and `/proc/sys/kernel/random/boot_id` for every pid record,
 * and Deno 2 grants reads under `/proc` only with *every* permission
 * (measured on 2.9.6: `--allow-read --allow-write --allow-env --allow-run`
 * gets "NotCapable: Requires all access to /proc/N/stat"; all eight
 * `--allow-*` flags or `-A` work). Without this check a careful script
 * author's flags made `start` wait forever for a pid record it could never
 * write. `Deno.permissions.querySync` costs ~0.3 ms for the whole set.
 *
 * Touches no files.
 *
 * @module
 */
import { CodexdError } from "./errors.ts";

/** A permission name; `import` is missing from Deno 2.9's `Deno.PermissionName` type. */
export type PermissionName = Deno.PermissionName | "import";

/** The permissions codexd needs on each OS. */
export function requiredPermissions(os: typeof Deno.build.os): PermissionName[] {
  // /proc reads need all of them on Linux; elsewhere (macOS: `ps`, `sysctl`) fewer.
  return os === "linux"
    ? ["read", "write", "env", "run", "sys", "net", "ffi", "import"]
    : ["read", "write", "env", "run"];
}

/** The required permissions that are not granted (pure over `query`, for tests). */
export function missingPermissions(
  os: typeof Deno.build.os,
  query: (name: PermissionName) => Deno.PermissionState = (name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state,
): PermissionName[] {
  return requiredPermissions(os).filter((name) => query(name) !== "granted");
}

/**
 * Fails fast when Deno was started without the permissions codexd needs.
 *
 * @throws {CodexdError} `PERMISSION_DENIED`, with the `deno run` flags to use.
 */
export function checkPermissions(os: typeof Deno.build.os = Deno.build.os): void {
  const missing = missingPermissions(os);
  if (missing.length === 0) return;
  const why = os === "linux" ? " (Deno reads /proc only with every permission)" : "";
  throw new CodexdError(
    "PERMISSION_DENIED",
    `Cannot manage the app-server: Deno lacks ${
      missing.map((name) => `--allow-${name}`).join(", ")
    }${why}`,
    "deno run -A jsr:@codexd/daemon <command>",
  );
}
