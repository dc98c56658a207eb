import { execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

/** The machine a run was measured on, as the results and the table name it. */
export interface MachineInfo {
  cpuModel: string;
  /** Family and model from /proc/cpuinfo: hosts sold under one model name differ a lot. */
  cpuIdentity?: string;
  /**
   * RSA-2048 signatures (SHA-256) one core checked per second before the run: the largest part of
   * a signed Idle, so it says how runs on different machines compare.
   */
  rsaVerifiesPerSecond: number;
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
    cpuIdentity: cpuIdentity(),
    rsaVerifiesPerSecond: rsaVerifiesPerSecond(),
    cores: processors.length,
    memoryBytes: totalmem(),
    node: process.version,
    os: `${type()} ${release()}`,
    loadAtStart: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

function cpuIdentity(): string | undefined {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(info)?.[1]?.trim();
    const family = field('cpu family');
    const model = field('model');

    return family && model ? `family ${family}, model ${model}` : undefined;
  } catch {
    return undefined;
  }
}

/** Checks one signature over and over for a second, on this (the harness's) thread. */
function rsaVerifiesPerSecond(): number {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.from('turnaround calibration');
  const signature = sign('sha256', data, privateKey);
  const started = process.hrtime.bigint();
  let checks = 0;
  let elapsedNs = 0n;
  while (elapsedNs < 1_000_000_000n) {
    for (let batch = 0; batch < 100; batch += 1) {
      if (!verify('sha256', data, publicKey, signature)) {
        throw new Error('calibration signature did not verify');
      }
    }
    checks += 100;
    elapsedNs = process.hrtime.bigint() - started;
  }

  return Math.round(checks / (Number(elapsedNs) / 1e9));
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
