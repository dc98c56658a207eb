import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** What the kernel says about one process at one moment. */
export interface ProcessSample {
  pid: number;
  /** utime + stime, in milliseconds. */
  cpuMs: number;
  rssBytes: number;
  /** VmHWM: the highest resident set the process ever had. */
  peakRssBytes: number;
}

// Clock ticks per second of utime and stime; 100 on every Linux this runs on, asked to be sure.
let ticksPerSecond: number | undefined;

export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let ticks = 100;

    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // getconf missing: the kernel's USER_HZ is 100 on every architecture Node supports.
    }
    ticksPerSecond = ticks;
  }

  return ticksPerSecond;
}

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');

  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** CPU time the process has used so far (user + system), in milliseconds. */
export function cpuMsOf(pid: number, ticks = clockTicksPerSecond()): number {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat; fields[0] is field 3 (state).
  const used = Number(fields[11]) + Number(fields[12]);

  return (used * 1000) / ticks;
}

function statusKilobytes(text: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);

  return match ? Number(match[1]) : 0;
}

export function sampleProcess(pid: number, ticks = clockTicksPerSecond()): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');

  return {
    pid,
    cpuMs: cpuMsOf(pid, ticks),
    rssBytes: statusKilobytes(status, 'VmRSS') * 1024,
    peakRssBytes: statusKilobytes(status, 'VmHWM') * 1024,
  };
}

/** Total CPU milliseconds of several processes. */
export function totalCpuMs(pids: readonly number[], ticks = clockTicksPerSecond()): number {
  return pids.reduce((sum, pid) => sum + cpuMsOf(pid, ticks), 0);
}

/** CPU milliseconds per process, leaving out those that are gone. */
export function cpuMsByPid(
  pids: readonly number[],
  ticks = clockTicksPerSecond(),
): Map<number, number> {
  const used = new Map<number, number>();

  for (const pid of pids) {
    try {
      used.set(pid, cpuMsOf(pid, ticks));
    } catch {
      // Ended (a database connection closed): it cannot be compared, so it is left out.
    }
  }

  return used;
}

/**
 * CPU used between two readings. A process that was not there at the first reading started in
 * between, so all its time counts when `newcomers` is `count`; one gone by the second is lost.
 */
export function cpuBetween(
  before: Map<number, number>,
  after: Map<number, number>,
  newcomers: 'count' | 'skip' = 'skip',
): number {
  let used = 0;

  for (const [pid, end] of after) {
    const start = before.get(pid);

    if (start !== undefined) {
      used += end - start;
    } else if (newcomers === 'count') {
      used += end;
    }
  }

  return used;
}

/** The processes whose parent is `parentPid`, with their command lines. */
export function childrenOf(parentPid: number): { pid: number; commandLine: string }[] {
  const children: { pid: number; commandLine: string }[] = [];

  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }

    try {
      const fields = statFields(Number(entry));

      // fields[1] is field 4 of stat, the parent's pid.
      if (Number(fields[1]) === parentPid) {
        const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');

        children.push({ pid: Number(entry), commandLine: commandLine.trim() });
      }
    } catch {
      // Gone between the listing and the read.
    }
  }

  return children;
}

/**
 * The PostgreSQL server processes serving `database`: their titles read
 * `postgres: <cluster>: <user> <database> <client> <state>`. Read from /proc, so that a
 * connection the pool opens in the middle of a window is found at its end.
 */
export function postgresBackendsOf(database: string): number[] {
  const pids: number[] = [];

  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }

    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0+$/, '');
      const words = title.split(/:\s+/).at(-1)?.split(' ') ?? [];

      if (title.startsWith('postgres: ') && words[1] === database) {
        pids.push(Number(entry));
      }
    } catch {
      // Gone between the listing and the read.
    }
  }

  return pids;
}

/** Whether `pid` still runs the command we started, so a recycled pid is never signalled. */
export function runs(pid: number, commandPart: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(commandPart);
  } catch {
    return false;
  }
}
