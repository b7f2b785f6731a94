/**
 * `pair --pretty`: the pairing codes for a person at a terminal — the short
 * code in large block letters, the scannable code as a QR code (when stdout
 * is a terminal) or its link. Pure except {@linkcode loadQrRenderer}, the
 * lazy import of the QR library.
 *
 * Why a library for the QR code: encoding (Reed-Solomon, masking, version
 * choice) is a few hundred lines that are easy to get subtly wrong. `uqr`
 * (unjs) is small, dependency-free, ESM, widely used and kept; it is
 * imported only here, only under `--pretty`, so JSON callers never load it.
 * The specifier is built at run time so `deno check`/`bundle` stay offline.
 *
 * @module
 */
import { stripControl } from "./render.ts";

/** The QR library, pinned (npm: `uqr`). */
export const QR_MODULE = ["npm:uqr", "0.1.3"].join("@");

/** Renders `data` as a QR code in Unicode half blocks. */
export type QrRenderer = (data: string) => string;

/** Imports the QR library; `undefined` when it cannot be loaded (e.g. offline). */
export async function loadQrRenderer(): Promise<QrRenderer | undefined> {
  try {
    const mod = await import(QR_MODULE) as {
      renderUnicodeCompact(data: string, options?: { border?: number }): string;
    };
    return (data) => mod.renderUnicodeCompact(data, { border: 2 });
  } catch {
    return undefined;
  }
}

/** A 3×5 block font for the characters pairing codes use. */
const FONT: Record<string, string[]> = {
  "0": ["###", "# #", "# #", "# #", "###"],
  "1": [" # ", "## ", " # ", " # ", "###"],
  "2": ["###", "  #", "###", "#  ", "###"],
  "3": ["###", "  #", "###", "  #", "###"],
  "4": ["# #", "# #", "###", "  #", "  #"],
  "5": ["###", "#  ", "###", "  #", "###"],
  "6": ["###", "#  ", "###", "# #", "###"],
  "7": ["###", "  #", "  #", "  #", "  #"],
  "8": ["###", "# #", "###", "# #", "###"],
  "9": ["###", "# #", "###", "  #", "###"],
  A: [" # ", "# #", "###", "# #", "# #"],
  B: ["## ", "# #", "## ", "# #", "## "],
  C: ["###", "#  ", "#  ", "#  ", "###"],
  D: ["## ", "# #", "# #", "# #", "## "],
  E: ["###", "#  ", "## ", "#  ", "###"],
  F: ["###", "#  ", "## ", "#  ", "#  "],
  G: ["###", "#  ", "# #", "# #", "###"],
  H: ["# #", "# #", "###", "# #", "# #"],
  I: ["###", " # ", " # ", " # ", "###"],
  J: ["  #", "  #", "  #", "# #", "###"],
  K: ["# #", "# #", "## ", "# #", "# #"],
  L: ["#  ", "#  ", "#  ", "#  ", "###"],
  M: ["# #", "###", "###", "# #", "# #"],
  N: ["## ", "# #", "# #", "# #", "# #"],
  O: [" # ", "# #", "# #", "# #", " # "],
  P: ["###", "# #", "###", "#  ", "#  "],
  Q: ["###", "# #", "# #", "###", "  #"],
  R: ["## ", "# #", "## ", "# #", "# #"],
  S: [" ##", "#  ", " # ", "  #", "## "],
  T: ["###", " # ", " # ", " # ", " # "],
  U: ["# #", "# #", "# #", "# #", "###"],
  V: ["# #", "# #", "# #", "# #", " # "],
  W: ["# #", "# #", "###", "###", "# #"],
  X: ["# #", "# #", " # ", "# #", "# #"],
  Y: ["# #", "# #", " # ", " # ", " # "],
  Z: ["###", "  #", " # ", "#  ", "###"],
  "-": ["   ", "   ", "###", "   ", "   "],
};

/**
 * `text` in 5-row block letters (`undefined` when a character has no glyph:
 * then the plain code is all there is).
 */
export function bigText(text: string): string | undefined {
  const glyphs = [...text.toUpperCase()].map((c) => FONT[c]);
  if (glyphs.length === 0 || glyphs.some((g) => g === undefined)) return undefined;
  return [0, 1, 2, 3, 4].map((row) =>
    glyphs.map((g) => g[row].replaceAll("#", "██").replaceAll(" ", "  ")).join("  ").trimEnd()
  ).join("\n");
}

function minutesLeft(seconds: unknown): string {
  if (typeof seconds !== "number") return "";
  return seconds >= 90 ? `, in ${Math.round(seconds / 60)} min` : `, in ${seconds} s`;
}

/** The human view of a `pair` result; `qr` renders the link when given. */
export function renderPairing(output: Record<string, unknown>, qr?: QrRenderer): string {
  const text = (key: string): string | undefined =>
    typeof output[key] === "string" ? stripControl(output[key] as string) : undefined;
  const status = text("status");
  const lines: string[] = [];
  if (status === "paired") {
    lines.push(`paired: a device claimed the code for ${text("serverName") ?? "this host"}`);
    return lines.join("\n");
  }
  lines.push(
    `Pair a device with ${text("serverName") ?? "this host"} ` +
      `(codes expire ${text("expiresAt") ?? "soon"}${minutesLeft(output.expiresInSeconds)})`,
    "",
  );
  const link = text("pairingLink");
  if (link && qr) {
    lines.push("Scan with the ChatGPT app:", qr(link), "");
  } else if (link) {
    lines.push(`Open on the device: ${link}`, "");
  }
  const manual = text("manualPairingCode");
  if (manual) {
    lines.push("Or type this code:", "", bigText(manual) ?? "", "", `    ${manual}`, "");
  } else {
    lines.push("(a code to type instead: codexd pair --manual-code)");
  }
  if (status === "pairingPending") lines.push("not claimed yet; the code still works");
  for (const warning of (output.warnings as string[] | undefined) ?? []) {
    lines.push(`warning: ${stripControl(warning)}`);
  }
  return lines.join("\n").replace(/\n+$/, "");
}
