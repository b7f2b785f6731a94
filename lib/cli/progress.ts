/**
 * Progress of long work (`update`, `bootstrap --install`) on stderr, never on
 * stdout (which stays one JSON object). On a terminal, a line per stage and
 * `@std/cli`'s progress bar for the download; on anything else (`ssh host
 * codexd update`, a log file), one plain line per stage — `downloading` with
 * its size — so a silent 10-second command says what it is doing.
 *
 * Loaded only by the commands that install.
 *
 * @module
 */
import { ProgressBar } from "@std/cli/unstable-progress-bar";
import type { InstallStage } from "../install/step.ts";

/** What the CLI hands the library for one command. */
export interface ProgressReporter {
  /** Download progress (bytes received, and the total when known). */
  onProgress(received: number, total?: number): void;
  /** A stage begins. */
  onStage(stage: InstallStage, detail?: string): void;
  /** Stops the progress bar (its timer and writer); call once the command is done. */
  done(): Promise<void>;
}

const MIB = 1024 * 1024;

/** The line printed for a stage (pure): `codexd: downloading codex 0.169.0 (52.3 MiB)`. */
export function stageLine(stage: InstallStage, detail?: string, bytes?: number): string {
  const what = stage === "resolving"
    ? `resolving codex ${detail ?? "latest"}`
    : stage === "installing"
    ? `installing with ${detail ?? "install.sh"}`
    : stage === "starting"
    ? "starting the app-server"
    : stage === "restarting"
    ? `restarting the app-server${detail ? ` on ${detail}` : ""}`
    : `${stage}${detail ? ` codex ${detail}` : ""}`;
  const size = bytes === undefined ? "" : ` (${(bytes / MIB).toFixed(1)} MiB)`;
  return `codexd: ${what}${size}`;
}

/** A reporter writing to `stderr` (a terminal gets a progress bar for the download). */
export function progressReporter(
  stderr: { isTerminal(): boolean; writeSync(bytes: Uint8Array): number } = Deno.stderr,
): ProgressReporter {
  const terminal = stderr.isTerminal();
  const encoder = new TextEncoder();
  const line = (text: string): void => {
    stderr.writeSync(encoder.encode(`${text}\n`));
  };
  let bar: ProgressBar | undefined;
  let stopping: Promise<void> | undefined;
  /** The download's stage line waits for its size (the first progress call). */
  let downloading: string | undefined;
  const flushDownloading = (bytes?: number): void => {
    if (downloading === undefined) return;
    line(stageLine("downloading", downloading || undefined, bytes));
    downloading = undefined;
  };
  const stopBar = (): Promise<void> => {
    stopping ??= bar?.stop() ?? Promise.resolve();
    return stopping;
  };
  return {
    onStage(stage, detail) {
      flushDownloading();
      if (stage === "downloading") {
        downloading = detail ?? "";
        return;
      }
      if (bar !== undefined) void stopBar();
      line(stageLine(stage, detail));
    },
    onProgress(received, total) {
      flushDownloading(total);
      if (!terminal || total === undefined || total <= 0) return;
      bar ??= new ProgressBar({ max: total, clear: true, interval: 200 });
      bar.value = received;
      if (received >= total) void stopBar();
    },
    done: async () => {
      flushDownloading();
      await stopBar();
    },
  };
}
