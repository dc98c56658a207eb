import { randomInt } from 'node:crypto';

import { REQUEST_KINDS, type RequestKind } from './load-job.js';
import { MODES, type Mode } from './service-under-test.js';

export type Phase = 'requests' | 'cycles' | 'memory';

export const PHASES: readonly Phase[] = ['requests', 'cycles', 'memory'];

export interface BenchOptions {
  quick: boolean;
  /** `custom` when sizes or phases differ from the full run's. */
  kind: 'full' | 'quick' | 'custom';
  modes: Mode[];
  phases: Phase[];
  kinds: RequestKind[];
  connections: number[];
  warmupMs: number;
  durationMs: number;
  poolSize: number;
  reportCommands: number;
  cycleDevices: number;
  cycles: number;
  cycleConcurrency: number;
  busyPollMs: [number, number];
  idlePollMs: number;
  memoryDevices: number;
  enrollConcurrency: number;
  logLevel: string;
  /** Where results go: `bench` for a full run, `bench/tmp/quick` or `bench/tmp/custom` else. */
  outDir: string;
  /** Profile the embedded service under Idle load instead of running the benchmarks. */
  profile: boolean;
  postgresUrl: string;
  amqpUrl: string;
  seed: string;
  /** What was measured, in words, when the folder is not the repository (a snapshot). */
  label?: string;
}

export type BenchCommand = { kind: 'help' } | { kind: 'run'; options: BenchOptions };

export class BenchUsageError extends Error {
  readonly code = 'BENCH.USAGE';
}

export const USAGE = `Usage: npm run bench -- [options]

Measures Turnaround on the embedded default (SQLite, in-process bus) and distributed (four
services on PostgreSQL and RabbitMQ): signed device requests per second with p50/p99 latency and
server CPU per request, full RTS cycles per second, and resident memory per service with a fleet
enrolled. Writes bench/results/<date>.json, bench/latest.json and bench/latest.md.

Everything runs on 127.0.0.1: the services on free ports with a data folder, a database and a
bus namespace of the run's own, all removed at the end (also on Ctrl-C).

Options
  --quick               a smoke run of a minute or two; results go to bench/tmp/quick
  --mode M              embedded, distributed or both (default both)
  --phases LIST         requests,cycles,memory (default all three)
  --requests LIST       idle,authenticate,token-update,report (default all four)
  --connections LIST    concurrent connections per level (default 1,16,64)
  --warmup S            seconds of load before each measured window (default 2)
  --duration S          seconds measured per level (default 10)
  --pool N              enrolled devices per request pool (default 64)
  --report-commands N   commands queued ahead of the first report level, later ones get
                        enough for their window at the last level's pace (default 6000)
  --cycle-devices N     simulated devices in each RTS run (default 1000)
  --cycles K            RTS cycles per run (default 1)
  --cycle-concurrency C device requests in flight in the RTS runs (default 64)
  --busy-poll MIN,MAX   ms between sessions of a device with work (default 20,60)
  --idle-poll MS        mean ms between polls of a device with none (default 1000)
  --memory-devices N    devices enrolled in all before memory is read (default 10000)
  --enroll-concurrency N  devices enrolling at once (default 16)
  --log-level L         the services' LOG_LEVEL (default info)
  --out DIR             where results are written (default bench for a full run, else
                        bench/tmp/quick or bench/tmp/custom, so only a full run replaces
                        bench/latest.*)
  --profile             instead: profile the embedded service (node --cpu-prof) under load of
                        one request kind (--requests, default idle) at the highest
                        --connections, or with --phases cycles through the RTS runs, and
                        summarize where its time goes
  --postgres URL        PostgreSQL to create the run's database in
                        (default postgres://postgres@127.0.0.1:5432/postgres)
  --amqp URL            RabbitMQ (default amqp://guest:guest@127.0.0.1:5672)
  --seed S              fixes the simulated devices (default random)
  --label TEXT          says what was measured, shown with the results (e.g. a snapshot's
                        commit when the run is not in a git checkout)
  -h, --help            show this text
`;

const FULL = {
  connections: [1, 16, 64],
  warmupMs: 2_000,
  durationMs: 10_000,
  poolSize: 64,
  reportCommands: 6_000,
  cycleDevices: 1_000,
  // One cycle per flow; --cycles 2 shows app preservation's steady state (apps kept, not
  // fetched).
  cycles: 1,
  memoryDevices: 10_000,
  enrollConcurrency: 16,
};

// Big enough to go through every code path, small enough for a shared development machine.
const QUICK: typeof FULL = {
  connections: [1, 8],
  warmupMs: 300,
  durationMs: 1_500,
  poolSize: 8,
  reportCommands: 600,
  cycleDevices: 20,
  cycles: 1,
  memoryDevices: 120,
  enrollConcurrency: 8,
};

type Reader = (raw: string) => unknown;

function wholeNumber(name: string, min: number, max: number): Reader {
  return (raw) => {
    const value = Number(raw);

    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new BenchUsageError(`--${name} must be a whole number from ${min} to ${max}`);
    }

    return value;
  };
}

function seconds(name: string): Reader {
  return (raw) => {
    const value = Number(raw);

    if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 3_600) {
      throw new BenchUsageError(`--${name} must be a number of seconds from 0 to 3600`);
    }

    return Math.round(value * 1000);
  };
}

function listOf<T extends string>(name: string, allowed: readonly T[]): Reader {
  return (raw) => {
    const items = raw.split(',').map((item) => item.trim());

    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new BenchUsageError(`--${name} takes ${allowed.join(', ')}; got "${item}"`);
      }
    }

    return [...new Set(items)];
  };
}

function numbers(name: string, min: number, max: number): Reader {
  const one = wholeNumber(name, min, max);

  return (raw) => raw.split(',').map((item) => one(item.trim()) as number);
}

function url(name: string, schemes: string[]): Reader {
  return (raw) => {
    let parsed: URL;

    try {
      parsed = new URL(raw);
    } catch {
      throw new BenchUsageError(`--${name} must be a URL`);
    }
    if (!schemes.includes(parsed.protocol)) {
      throw new BenchUsageError(`--${name} must start with ${schemes.join(' or ')}//`);
    }

    return raw;
  };
}

const READERS: Record<string, Reader | 'flag'> = {
  quick: 'flag',
  profile: 'flag',
  mode: (raw) => {
    if (raw === 'both') {
      return [...MODES];
    }
    if (!(MODES as readonly string[]).includes(raw)) {
      throw new BenchUsageError('--mode must be embedded, distributed or both');
    }

    return [raw];
  },
  phases: listOf('phases', PHASES),
  requests: listOf('requests', REQUEST_KINDS),
  connections: numbers('connections', 1, 1_024),
  warmup: seconds('warmup'),
  duration: seconds('duration'),
  pool: wholeNumber('pool', 1, 10_000),
  'report-commands': wholeNumber('report-commands', 1, 1_000_000),
  'cycle-devices': wholeNumber('cycle-devices', 1, 100_000),
  cycles: wholeNumber('cycles', 1, 100),
  'cycle-concurrency': wholeNumber('cycle-concurrency', 1, 1_024),
  'busy-poll': (raw) => {
    const [min, max] = numbers('busy-poll', 0, 60_000)(raw) as number[];

    if (min === undefined || max === undefined || min > max) {
      throw new BenchUsageError('--busy-poll takes MIN,MAX milliseconds with MIN <= MAX');
    }

    return [min, max];
  },
  'idle-poll': wholeNumber('idle-poll', 1, 60_000),
  'memory-devices': wholeNumber('memory-devices', 0, 1_000_000),
  'enroll-concurrency': wholeNumber('enroll-concurrency', 1, 256),
  'log-level': (raw) => {
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw)) {
      throw new BenchUsageError('--log-level must be a pino level (info, warn, ...)');
    }

    return raw;
  },
  out: (raw) => {
    if (raw.trim() === '') {
      throw new BenchUsageError('--out must name a folder');
    }

    return raw;
  },
  postgres: url('postgres', ['postgres:', 'postgresql:']),
  amqp: url('amqp', ['amqp:', 'amqps:']),
  seed: wholeNumber('seed', 0, Number.MAX_SAFE_INTEGER),
  label: (raw) => {
    if (raw.trim() === '' || raw.length > 200) {
      throw new BenchUsageError('--label takes 1 to 200 characters');
    }

    return raw;
  },
};

/** Reads the command line; throws {@link BenchUsageError} with a message for the user. */
export function parseBenchArgs(argv: readonly string[]): BenchCommand {
  const given = new Map<string, unknown>();

  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;

    if (arg === '-h' || arg === '--help') {
      return { kind: 'help' };
    }
    if (!arg.startsWith('--')) {
      throw new BenchUsageError(`unexpected argument "${arg}" (see --help)`);
    }

    const [name = '', inline] = arg.slice(2).split(/=(.*)/s, 2);
    const reader = READERS[name];

    if (!reader) {
      throw new BenchUsageError(`unknown option --${name} (see --help)`);
    }
    if (given.has(name)) {
      throw new BenchUsageError(`--${name} is given twice`);
    }
    if (reader === 'flag') {
      given.set(name, true);
      continue;
    }

    const raw = inline ?? argv[i + 1];

    if (raw === undefined) {
      throw new BenchUsageError(`--${name} needs a value`);
    }
    if (inline === undefined) {
      i += 1;
    }
    given.set(name, reader(raw));
  }

  const quick = given.get('quick') === true;
  const sizes = quick ? QUICK : FULL;
  const pick = <T>(name: string, fallback: T): T => (given.get(name) as T | undefined) ?? fallback;
  const neutral = ['quick', 'out', 'log-level', 'postgres', 'amqp', 'seed', 'label'];
  const options: BenchOptions = {
    quick,
    kind: quick
      ? 'quick'
      : [...given.keys()].some((name) => !neutral.includes(name))
        ? 'custom'
        : 'full',
    modes: pick('mode', [...MODES]),
    phases: pick('phases', [...PHASES]),
    kinds: pick('requests', [...REQUEST_KINDS]),
    connections: pick('connections', sizes.connections),
    warmupMs: pick('warmup', sizes.warmupMs),
    durationMs: pick('duration', sizes.durationMs),
    poolSize: pick('pool', sizes.poolSize),
    reportCommands: pick('report-commands', sizes.reportCommands),
    cycleDevices: pick('cycle-devices', sizes.cycleDevices),
    cycles: pick('cycles', sizes.cycles),
    cycleConcurrency: pick('cycle-concurrency', 64),
    busyPollMs: pick('busy-poll', [20, 60]),
    idlePollMs: pick('idle-poll', 1_000),
    memoryDevices: pick('memory-devices', sizes.memoryDevices),
    enrollConcurrency: pick('enroll-concurrency', sizes.enrollConcurrency),
    logLevel: pick('log-level', 'info'),
    outDir: 'bench',
    profile: given.get('profile') === true,
    postgresUrl: pick('postgres', 'postgres://postgres@127.0.0.1:5432/postgres'),
    amqpUrl: pick('amqp', 'amqp://guest:guest@127.0.0.1:5672'),
    seed: String(pick('seed', randomInt(0, 2 ** 31))),
  };
  const label = given.get('label');

  if (typeof label === 'string') {
    options.label = label;
  }

  // Only a full run replaces bench/latest.*: the README shows it.
  options.outDir = pick('out', options.kind === 'full' ? 'bench' : `bench/tmp/${options.kind}`);
  if (options.durationMs === 0) {
    throw new BenchUsageError('--duration must be more than 0 seconds');
  }
  if (options.profile) {
    if (given.has('mode') && !options.modes.every((mode) => mode === 'embedded')) {
      throw new BenchUsageError('--profile runs the embedded service only');
    }
    if (given.has('requests') && options.kinds.length !== 1) {
      throw new BenchUsageError('--profile profiles one request kind: give --requests one');
    }
    if (given.has('phases') && (options.phases.length !== 1 || options.phases[0] === 'memory')) {
      throw new BenchUsageError('--profile profiles one phase: --phases requests or --phases cycles');
    }
    options.modes = ['embedded'];
    options.kinds = given.has('requests') ? options.kinds : ['idle'];
    options.phases = given.has('phases') ? options.phases : ['requests'];
    options.connections = [Math.max(...options.connections)];
    options.outDir = pick('out', 'bench/tmp/profile');
  }

  return { kind: 'run', options };
}
