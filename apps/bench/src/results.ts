import type { CycleRunResult } from './cycle-phase.js';
import { REQUEST_LABELS, type LoadResult } from './load-job.js';
import type { MachineInfo } from './machine.js';
import type { MemoryResult, ProcessMemory } from './memory-phase.js';
import type { BenchOptions } from './options.js';
import type { Mode } from './service-under-test.js';

export interface ModeResults {
  mode: Mode;
  requests: LoadResult[];
  cycles: CycleRunResult[];
  memory?: MemoryResult;
  /** VmHWM of every process at the end of the mode: the peak over everything it went through. */
  peak: ProcessMemory[];
  /** Devices enrolled over the whole mode (pools, RTS fleets, memory fleet). */
  devicesEnrolled: number;
}

export type Verdict = 'met' | 'missed' | 'not measured';

export interface TargetCheck {
  target: string;
  mode: Mode;
  measured: string;
  verdict: Verdict;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  kind: BenchOptions['kind'];
  options: BenchOptions;
  machine: MachineInfo;
  /** The git commit of the folder it ran in, and how many tracked files differed from it. */
  source?: { commit: string; changedFiles: number };
  modes: ModeResults[];
  targets: TargetCheck[];
}

const IDLE_PER_CORE = 4_800;
const P99_LIMIT_MS = 20;
const P99_CONNECTIONS = 64;
const CYCLES_PER_SECOND: Record<Mode, number> = { embedded: 200, distributed: 100 };
const RSS_LIMIT_BYTES = 200 * 1024 * 1024;
const MEMORY_DEVICES = 10_000;

const MB = 1024 * 1024;

function fixed(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? 'n/a' : value.toFixed(digits);
}

function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Requests per second one core of server CPU answers: 1000 ms over the CPU ms of one request. */
export function perCore(result: LoadResult): number | null {
  return result.cpuMsPerRequest ? 1000 / result.cpuMsPerRequest : null;
}

/** Every target of issue #4 for one mode, met, missed or not measured by this run. */
export function checkTargets(mode: ModeResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const idle = mode.requests
    .filter((result) => result.kind === 'idle')
    .sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0];
  const idlePerCore = idle ? perCore(idle) : null;

  checks.push({
    target: `≥ ${thousands(IDLE_PER_CORE)} signed Idle requests/s per core`,
    mode: mode.mode,
    measured:
      idle && idlePerCore !== null
        ? `${thousands(idlePerCore)}/s per core (${thousands(idle.requestsPerSecond)}/s at ${idle.connections} connections, ${fixed(idle.cpuMsPerRequest, 3)} ms CPU each)`
        : 'no Idle run',
    verdict:
      idlePerCore === null ? 'not measured' : idlePerCore >= IDLE_PER_CORE ? 'met' : 'missed',
  });

  const at64 = mode.requests.filter((result) => result.connections === P99_CONNECTIONS);

  checks.push({
    target: `p99 < ${P99_LIMIT_MS} ms at ${P99_CONNECTIONS} connections`,
    mode: mode.mode,
    measured:
      at64.length === 0
        ? `no run at ${P99_CONNECTIONS} connections`
        : at64
            .map((result) => `${REQUEST_LABELS[result.kind]} ${fixed(result.latencyMs.p99)} ms`)
            .join(', '),
    verdict:
      at64.length === 0
        ? 'not measured'
        : at64.every(
              (result) =>
                result.answered > 0 &&
                result.latencyMs.p99 !== null &&
                result.latencyMs.p99 < P99_LIMIT_MS,
            )
          ? 'met'
          : 'missed',
  });

  const cyclesTarget = CYCLES_PER_SECOND[mode.mode];

  checks.push({
    target: `≥ ${cyclesTarget} RTS cycles/s`,
    mode: mode.mode,
    measured:
      mode.cycles.length === 0
        ? 'no RTS run'
        : mode.cycles
            .map((run) => `${run.flow} ${fixed(run.cyclesPerSecond)}/s (${run.devices} devices)`)
            .join(', '),
    verdict:
      mode.cycles.length === 0
        ? 'not measured'
        : mode.cycles.every((run) => run.cyclesPerSecond >= cyclesTarget && run.notReturned === 0)
          ? 'met'
          : 'missed',
  });

  const memory = mode.memory;
  const largest = memory
    ? memory.processes
        .filter((entry) => entry.name !== 'router')
        .reduce((max, entry) => Math.max(max, entry.rssBytes), 0)
    : 0;

  checks.push({
    target: `< 200 MB resident per service with ${thousands(MEMORY_DEVICES)} devices enrolled`,
    mode: mode.mode,
    measured: memory
      ? `largest ${fixed(largest / MB, 0)} MB with ${thousands(memory.devicesKnown)} devices`
      : 'no memory run',
    verdict:
      !memory || memory.devicesKnown < MEMORY_DEVICES
        ? 'not measured'
        : largest < RSS_LIMIT_BYTES
          ? 'met'
          : 'missed',
  });

  return checks;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;

  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function requestRows(modes: ModeResults[]): string[][] {
  return modes.flatMap((mode) =>
    mode.requests.map((result) => [
      mode.mode,
      REQUEST_LABELS[result.kind],
      String(result.connections),
      thousands(result.requestsPerSecond),
      fixed(result.latencyMs.p50, 2),
      fixed(result.latencyMs.p99, 2),
      fixed(result.cpuMsPerRequest, 3),
      result.databaseCpuMs === null || result.serverRequests === 0
        ? '–'
        : fixed(result.databaseCpuMs / result.serverRequests, 3),
      `${thousands(result.answered)} in ${fixed(result.windowMs / 1000)} s`,
      String(result.wrong + result.failed),
    ]),
  );
}

function cycleRows(modes: ModeResults[]): string[][] {
  return modes.flatMap((mode) =>
    mode.cycles.map((run) => [
      mode.mode,
      run.flow,
      `${thousands(run.devices)} × ${run.cyclesAsked}`,
      `${thousands(run.returned)} of ${thousands(run.returned + run.notReturned)}`,
      `${fixed(run.cycleWallMs / 1000)} s`,
      fixed(run.cyclesPerSecond),
      fixed(run.cpuMsPerCycle, 0),
      fixed(run.requestsPerDeviceCycle),
    ]),
  );
}

function memoryRows(modes: ModeResults[]): string[][] {
  return modes.flatMap((mode) =>
    mode.peak.map((peak) => {
      const after = mode.memory?.processes.find((entry) => entry.name === peak.name);

      return [
        mode.mode,
        peak.name,
        after && mode.memory
          ? `${fixed(after.rssBytes / MB, 0)} MB with ${thousands(mode.memory.devicesKnown)} devices`
          : 'n/a',
        `${fixed(peak.peakRssBytes / MB, 0)} MB`,
      ];
    }),
  );
}

function describeMeasured(results: BenchResults): string {
  const parts: string[] = [];

  if (results.options.label) {
    parts.push(results.options.label);
  }
  if (results.source) {
    parts.push(
      `commit ${results.source.commit.slice(0, 10)}` +
        (results.source.changedFiles > 0
          ? ` with ${results.source.changedFiles} changed files`
          : ''),
    );
  }

  return parts.length > 0 ? parts.join(', ') : 'a folder outside git';
}

/** The markdown the README shows: machine, targets, then every measurement. */
export function renderMarkdown(results: BenchResults): string {
  const { machine, options } = results;
  const lines = [
    `# Turnaround benchmarks (${results.kind} run)`,
    '',
    `${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, \`npm run bench\`` +
      (results.kind === 'full' ? '' : ` (${results.kind})`) +
      ` on ${machine.cpuModel}${machine.cpuIdentity ? ` (${machine.cpuIdentity})` : ''}, ${machine.cores} cores, ` +
      `${fixed(machine.memoryBytes / 1024 ** 3)} GiB RAM, Node ${machine.node}, ${machine.os}` +
      (machine.rsaVerifiesPerSecond
        ? `; one core checked ${machine.rsaVerifiesPerSecond.toLocaleString('en-US')} RSA-2048 signatures/s before the run`
        : '') +
      `. Load average (1/5/15 min) at the start ` +
      `${machine.loadAtStart.join(' / ')}, at the end ${machine.loadAtEnd?.join(' / ') ?? 'n/a'}.`,
    '',
    `Measured: ${describeMeasured(results)}.`,
    '',
    '## Targets (issue #4)',
    '',
    table(
      ['Target', 'Mode', 'Measured', 'Verdict'],
      results.targets.map((check) => [check.target, check.mode, check.measured, check.verdict]),
    ),
  ];

  if (results.modes.some((mode) => mode.requests.length > 0)) {
    lines.push(
      '',
      '## Device requests',
      '',
      table(
        [
          'Mode',
          'Request',
          'Connections',
          'Requests/s',
          'p50 ms',
          'p99 ms',
          'CPU ms/request',
          'PostgreSQL CPU ms/request',
          'Answered',
          'Wrong/failed',
        ],
        requestRows(results.modes),
      ),
    );
  }
  if (results.modes.some((mode) => mode.cycles.length > 0)) {
    lines.push(
      '',
      '## Return to Service cycles',
      '',
      table(
        [
          'Mode',
          'Flow',
          'Devices × cycles',
          'Returned',
          'Cycle wall time',
          'Cycles/s',
          'CPU ms/cycle',
          'Requests/device/cycle',
        ],
        cycleRows(results.modes),
      ),
    );
  }
  if (results.modes.some((mode) => mode.peak.length > 0)) {
    lines.push(
      '',
      '## Memory per process',
      '',
      table(
        ['Mode', 'Process', 'Resident after enrolling', 'Peak resident (VmHWM), whole run'],
        memoryRows(results.modes),
      ),
    );
  }

  lines.push(
    '',
    '## How it was measured',
    '',
    `- Device requests: each level warms up ${fixed(options.warmupMs / 1000)} s, then measures ` +
      `${fixed(options.durationMs / 1000)} s (a report level ends earlier if its queued commands run out). ` +
      'Idle, Authenticate and TokenUpdate bodies are signed once per device (Mdm-Signature, CMS) and sent ' +
      'again unchanged; a command report acknowledges a Settings command really queued for that ' +
      'Vision Pro through the admin API and is signed as it is sent. A separate load-generator ' +
      'process keeps one keep-alive connection per level connection, each speaking for its own ' +
      `devices (pools of ${options.poolSize}). Only 200 answers with the expected body count ` +
      '(zero bytes for Idle, check-ins and the last report; the next Settings otherwise).',
    '- Distributed device requests go straight to the check-in and commands services\u2019 own ports, ' +
      'as an ingress would send them, not through the launcher\u2019s development router; the RTS runs and ' +
      'enrollments use the router (the URL in the enrollment profile).',
    '- CPU ms per request: utime + stime of every service process (from /proc) over the window, ' +
      'divided by the requests they answered in it (reports include the Idle that opens each session). ' +
      'Per core = 1000 / CPU ms per request. PostgreSQL CPU: the server processes connected to the ' +
      'run\u2019s own database, over the same window; RabbitMQ\u2019s CPU is not counted (the broker is shared).',
    `- RTS cycles/s: devices returned to service over the summed wall time of the cycles (trigger to ` +
      `last device), first enrollment excluded, with the simulator's own orchestration ` +
      `(--concurrency ${options.cycleConcurrency}, erase, network join, app install, snapshot and update ` +
      `delays 0, sessions every ${options.busyPollMs[0]}\u2013${options.busyPollMs[1]} ms while busy and ` +
      `${options.idlePollMs} ms idle in place of pushes, 15% of app installs first answered NotNow).`,
    `- Memory: VmRSS of each process after enrolling devices (signed MachineInfo, Authenticate, ` +
      'TokenUpdate, bootstrap token, released) until the service knew the number shown, and VmHWM at ' +
      'the end of the mode.',
    '- The load generator, the simulator and the services share the machine\u2019s cores.',
  );

  return `${lines.join('\n')}\n`;
}
