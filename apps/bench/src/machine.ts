import { execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

/** The machine a run was measured on, as the results and the table name it. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the run started and ended: others' work shows here. */
  loadAtStart: number[];
  loadAtEnd?: number[];
}

export function describeMachine(): MachineInfo {
  const processors = cpus();

  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryBytes: totalmem(),
    node: process.version,
    os: `${type()} ${release()}`,
    loadAtStart: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

export function currentLoad(): number[] {
  return loadavg().map((value) => Number(value.toFixed(2)));
}

/** The commit measured, and whether the working tree differed from it; none outside git. */
export function describeSource(): { commit: string; changedFiles: number } | undefined {
  try {
    // Outside a checkout git complains on stderr; that is an answer here, not a problem.
    const quiet: ExecFileSyncOptionsWithStringEncoding = {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    };
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], quiet).trim();
    const changes = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], quiet);

    return { commit, changedFiles: changes.split('\n').filter((line) => line !== '').length };
  } catch {
    return undefined;
  }
}
