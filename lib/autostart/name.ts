/**
 * The name of one CODEX_HOME's service: the systemd unit file name and the
 * LaunchAgent label, derived from the home's path so several homes coexist.
 * Kept apart from `unit.ts` so `status` (a hot command) loads only this.
 *
 * @module
 */

/** Reverse-DNS prefix of LaunchAgent labels. */
export const LAUNCHD_LABEL_PREFIX = "dev.codexd";
/** Prefix of every unit name and LaunchAgent label. */
export const SERVICE_PREFIX = "codexd";
/** 32-bit FNV-1a of a string's UTF-8 bytes, as 8 hex digits: short, stable, dependency-free. */
export function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * The service name of one CODEX_HOME: `codexd-<readable slug>-<hash>`. The
 * slug helps a person reading `systemctl --user list-units`; the hash of the
 * exact path keeps two homes apart even when their slugs collide.
 */
export function serviceName(codexHome: string): string {
  const slug = codexHome.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(-40).replace(/^-+/, "");
  return `${SERVICE_PREFIX}-${slug ? `${slug}-` : ""}${fnv1a32(codexHome)}`;
}

/** The systemd unit file name of one CODEX_HOME. */
export function unitFileName(codexHome: string): string {
  return `${serviceName(codexHome)}.service`;
}

/** The LaunchAgent label of one CODEX_HOME. */
export function launchdLabel(codexHome: string): string {
  return `${LAUNCHD_LABEL_PREFIX}.${serviceName(codexHome).slice(SERVICE_PREFIX.length + 1)}`;
}
