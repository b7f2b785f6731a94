/**
 * Resident memory of the idle updater: bootstraps a CODEX_HOME (fake
 * app-server, so only the updater is measured), then sums VmRSS of every
 * process in the updater's process group between passes.
 *
 * @module
 */
import { fakeHome, runCli } from "../tests/support/helpers.ts";

function rssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(pid);
    } catch {
      // gone
    }
  }
  return members;
}

/** Bootstraps, samples the idle updater's group RSS a few times, returns a report line. */
export async function updaterIdleRss(): Promise<string> {
  await using h = await fakeHome();
  const boot = (await runCli(h.home, ["bootstrap"])).json;
  const pgid = boot.updaterPid as number;
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    samples.push(groupMembers(pgid).reduce((sum, pid) => sum + rssKiB(pid), 0));
  }
  await runCli(h.home, ["stop", "--all", "--grace-seconds", "1"]);
  const peak = Math.max(...samples);
  return `Idle updater resident memory (whole process group: sh loop + sleep): ${
    (peak / 1024).toFixed(2)
  } MiB peak over ${samples.length} samples (the reference's updater holds ~53 MiB)`;
}

if (import.meta.main) console.log(await updaterIdleRss());
