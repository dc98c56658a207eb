import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { PLATFORMS, type Platform } from './hardware.js';
import { CYCLE_TRIGGERS, type CycleTrigger } from './orchestrator.js';
import { SimulatorError } from './simulator.errors.js';

export interface CliOptions {
  devices: number;
  cycles: number;
  platform: Platform;
  url: string;
  apiKey?: string;
  json: boolean;
  /** Fixes UDIDs, serial numbers and which app installs answer NotNow. */
  seed: string;
  concurrency: number;
  timeoutSeconds: number;
  notNowShare: number;
  eraseDelayMs: number;
  idlePollMs: number;
  verbose: boolean;
  /** RTS with app preservation. */
  preserveApps: boolean;
  /** With app preservation, Keynote in the plan of odd cycles only. */
  rotateApps: boolean;
  trigger: CycleTrigger;
  /** TemporarySessionTimeout of `--trigger idle` runs, in seconds. */
  idleTimeoutSeconds: number;
  snapshotMs: number;
  activationLockShare: number;
  unlockPort?: number;
  outdatedShare: number;
  updateDelayMs: number;
}

export type CliCommand = { kind: 'help' } | { kind: 'run'; options: CliOptions };

export class UsageError extends SimulatorError {
  constructor(message: string) {
    super('SIMULATOR.USAGE', message);
    this.name = 'UsageError';
  }
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export const USAGE = `Usage: npm run simulate -- [options]

Simulates shared iPhones, iPads, Apple TVs or Vision Pros that enroll with Turnaround through
Automated Device Enrollment (signed MachineInfo) and go through Return to Service cycles. With
no options it runs 10 iPhones through 1 cycle, triggered over the admin API, against the
embedded default (npm start) at ${DEFAULT_URL}.

Options
  --devices N          devices to simulate (default 10)
  --cycles K           Return to Service cycles to run (default 1)
  --platform P         ios, ipados, tvos or visionos (default ios)
  --url URL            the service's base URL (default ${DEFAULT_URL})
  --api-key KEY        admin API key (default: TURNAROUND_API_KEY, else $TURNAROUND_DATA_DIR/api-key, else ./data/api-key)
  --json               print one JSON line with the results on stdout instead of the table
  --seed S             integer that fixes device identities and NotNow answers (default random)
  --concurrency C      device requests in flight at once (default 32)
  --timeout SECONDS    longest wait for enrollment and for each cycle (default 600)
  --not-now SHARE      share of app installs first answered NotNow, 0 to 1 (default 0.15)
  --erase-delay MS     how long an erase takes on the device (default 1500)
  --idle-poll MS       poll interval of an idle device, in place of a push (default 2000)
  --verbose            log every enrollment and erase on stderr

Return to Service with app preservation (iOS, iPadOS, visionOS 26)
  --preserve-apps      the configuration keeps apps: devices escrow a bootstrap token after
                       their first enrollment and, erased with it, keep their apps (Pages and
                       Numbers). visionOS also gets an AllowJoinBeforeFirstUnlock
                       Wi-Fi profile and an idle timeout (one hour unless --trigger idle)
  --rotate-apps        with --preserve-apps, Keynote is in the plan of odd cycles only, so
                       later cycles also remove an app and download it again
  --snapshot-ms MS     how long a device takes for its snapshot after DeviceConfigured,
                       answering NotNow meanwhile (default 1000)
  --trigger T          who starts each cycle: service (POST /return-to-service, default),
                       user (a person, a moment after the device is in service; ios, ipados,
                       visionos) or idle (the idle timeout; visionos). user and idle need
                       --preserve-apps: the run assigns the configuration with
                       POST /rts-assignments and the devices send the ReturnToService check-in
  --idle-timeout S     the idle timeout (TemporarySessionTimeout) for --trigger idle, in
                       seconds, 30 or more (default 30)

Activation Lock and software updates
  --activation-lock SHARE  share of devices, 0 to 1, that turn Activation Lock on whenever they
                       are in service (default 0; not tvos); the service must clear it before
                       the erase or the device stops in Setup Assistant
  --unlock-port P      run a fake Apple unlock endpoint on 127.0.0.1:P; start the service with
                       TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL=
                         http://127.0.0.1:P/deviceservicesworkers/escrowKeyUnlock
                       (the run prints it at start)
  --outdated SHARE     share of devices, 0 to 1, that start on an older OS (default 0); the
                       configuration then requires the newest release, so they are answered 403
                       software-update-required when they enroll after an erase, update and retry
                       (not tvos)
  --update-delay MS    how long such a software update takes (default 2000)

  -h, --help           show this text

Exit code 0 when every device returned to service in every cycle, 1 when a device failed,
stalled or timed out (each with its reason), 2 for a usage error.
`;

interface Spec {
  kind: 'integer' | 'share' | 'text' | 'platform' | 'trigger' | 'url' | 'flag';
  min?: number;
  max?: number;
}

const SPECS: Record<string, Spec> = {
  devices: { kind: 'integer', min: 1, max: 100_000 },
  cycles: { kind: 'integer', min: 1, max: 1_000 },
  platform: { kind: 'platform' },
  url: { kind: 'url' },
  'api-key': { kind: 'text' },
  json: { kind: 'flag' },
  seed: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
  concurrency: { kind: 'integer', min: 1, max: 1_024 },
  timeout: { kind: 'integer', min: 1, max: 86_400 },
  'not-now': { kind: 'share' },
  'erase-delay': { kind: 'integer', min: 0, max: 600_000 },
  'idle-poll': { kind: 'integer', min: 50, max: 60_000 },
  verbose: { kind: 'flag' },
  'preserve-apps': { kind: 'flag' },
  'rotate-apps': { kind: 'flag' },
  trigger: { kind: 'trigger' },
  // Apple's minimum is 30 seconds; the service takes at most a day.
  'idle-timeout': { kind: 'integer', min: 30, max: 86_400 },
  'snapshot-ms': { kind: 'integer', min: 0, max: 600_000 },
  'activation-lock': { kind: 'share' },
  'unlock-port': { kind: 'integer', min: 0, max: 65_535 },
  outdated: { kind: 'share' },
  'update-delay': { kind: 'integer', min: 0, max: 600_000 },
};

function readValue(name: string, raw: string, spec: Spec): string | number | boolean {
  switch (spec.kind) {
    case 'integer': {
      if (!/^-?\d+$/.test(raw)) {
        throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
      }

      const value = Number(raw);

      if (
        !Number.isSafeInteger(value) ||
        value < (spec.min ?? 0) ||
        value > (spec.max ?? Infinity)
      ) {
        throw new UsageError(`--${name} must be from ${spec.min} to ${spec.max}, got ${raw}`);
      }

      return value;
    }
    case 'share': {
      const value = Number(raw);

      if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
        throw new UsageError(`--${name} must be a number from 0 to 1, got "${raw}"`);
      }

      return value;
    }
    case 'platform':
      if (!(PLATFORMS as readonly string[]).includes(raw)) {
        throw new UsageError(`--platform must be one of ${PLATFORMS.join(', ')}, got "${raw}"`);
      }

      return raw;
    case 'trigger':
      if (!(CYCLE_TRIGGERS as readonly string[]).includes(raw)) {
        throw new UsageError(`--trigger must be one of ${CYCLE_TRIGGERS.join(', ')}, got "${raw}"`);
      }

      return raw;
    case 'url': {
      let url: URL;

      try {
        url = new URL(raw);
      } catch {
        throw new UsageError(`--url must be a URL such as ${DEFAULT_URL}, got "${raw}"`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UsageError(`--url must start with http:// or https://, got "${raw}"`);
      }

      return raw.replace(/\/+$/, '');
    }
    case 'text':
      if (raw === '') {
        throw new UsageError(`--${name} must not be empty`);
      }

      return raw;
    case 'flag':
      return true;
  }
}

/** Reads the command line; throws {@link UsageError} with a message fit for the user. */
export function parseArgs(argv: readonly string[]): CliCommand {
  const given = new Map<string, string | number | boolean>();

  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;

    if (arg === '-h' || arg === '--help') {
      return { kind: 'help' };
    }
    if (!arg.startsWith('--')) {
      throw new UsageError(`unexpected argument "${arg}" (options start with --; see --help)`);
    }

    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    const inline = equals === -1 ? undefined : arg.slice(equals + 1);
    const spec = SPECS[name];

    if (!spec) {
      throw new UsageError(`unknown option --${name} (see --help)`);
    }
    if (given.has(name)) {
      throw new UsageError(`--${name} is given twice`);
    }
    if (spec.kind === 'flag') {
      if (inline !== undefined) {
        throw new UsageError(`--${name} takes no value`);
      }

      given.set(name, true);
      continue;
    }

    let raw = inline;

    if (raw === undefined) {
      const next = argv[i + 1];

      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${name} needs a value`);
      }

      raw = next;
      i += 1;
    }

    given.set(name, readValue(name, raw, spec));
  }

  const options: CliOptions = {
    devices: (given.get('devices') as number | undefined) ?? 10,
    cycles: (given.get('cycles') as number | undefined) ?? 1,
    platform: (given.get('platform') as Platform | undefined) ?? 'ios',
    url: (given.get('url') as string | undefined) ?? DEFAULT_URL,
    json: given.get('json') === true,
    seed: String((given.get('seed') as number | undefined) ?? randomInt(0, 2 ** 31)),
    concurrency: (given.get('concurrency') as number | undefined) ?? 32,
    timeoutSeconds: (given.get('timeout') as number | undefined) ?? 600,
    notNowShare: (given.get('not-now') as number | undefined) ?? 0.15,
    eraseDelayMs: (given.get('erase-delay') as number | undefined) ?? 1_500,
    idlePollMs: (given.get('idle-poll') as number | undefined) ?? 2_000,
    verbose: given.get('verbose') === true,
    preserveApps: given.get('preserve-apps') === true,
    rotateApps: given.get('rotate-apps') === true,
    trigger: (given.get('trigger') as CycleTrigger | undefined) ?? 'service',
    idleTimeoutSeconds: (given.get('idle-timeout') as number | undefined) ?? 30,
    snapshotMs: (given.get('snapshot-ms') as number | undefined) ?? 1_000,
    activationLockShare: (given.get('activation-lock') as number | undefined) ?? 0,
    outdatedShare: (given.get('outdated') as number | undefined) ?? 0,
    updateDelayMs: (given.get('update-delay') as number | undefined) ?? 2_000,
  };
  const apiKey = given.get('api-key');
  const unlockPort = given.get('unlock-port');

  if (typeof apiKey === 'string') {
    options.apiKey = apiKey;
  }
  if (typeof unlockPort === 'number') {
    options.unlockPort = unlockPort;
  }

  checkCombination(options, given);

  return { kind: 'run', options };
}

/** Options that each read fine but do not go together. */
function checkCombination(options: CliOptions, given: ReadonlyMap<string, unknown>): void {
  const { platform, trigger } = options;

  if (options.rotateApps && !options.preserveApps) {
    throw new UsageError('--rotate-apps needs --preserve-apps');
  }
  if (trigger !== 'service' && !options.preserveApps) {
    throw new UsageError(
      `--trigger ${trigger} needs --preserve-apps: devices ask for Return to Service themselves only in RTS with app preservation mode`,
    );
  }
  if (trigger === 'user' && platform === 'tvos') {
    throw new UsageError(
      '--trigger user needs ios, ipados or visionos: Apple TV cannot ask for Return to Service itself',
    );
  }
  if (trigger === 'idle' && platform !== 'visionos') {
    throw new UsageError(
      '--trigger idle needs --platform visionos: only visionOS takes the idle timeout (TemporarySessionTimeout) that triggers Return to Service',
    );
  }
  if (given.has('idle-timeout') && trigger !== 'idle') {
    throw new UsageError('--idle-timeout applies to --trigger idle only');
  }
  if (platform === 'tvos' && options.activationLockShare > 0) {
    throw new UsageError(
      '--activation-lock needs ios, ipados or visionos: Apple TV has no bypass code the service could clear it with',
    );
  }
  if (platform === 'tvos' && options.outdatedShare > 0) {
    throw new UsageError(
      '--outdated needs ios, ipados or visionos: tvOS cannot be asked to update during enrollment',
    );
  }
}

export interface ApiKeySources {
  env: Record<string, string | undefined>;
  cwd: string;
  readFile?: (path: string) => string;
}

/**
 * The admin API key: --api-key, else TURNAROUND_API_KEY, else the file the embedded default
 * writes on first start (`<TURNAROUND_DATA_DIR or ./data>/api-key`).
 */
export function resolveApiKey(options: Pick<CliOptions, 'apiKey'>, sources: ApiKeySources): string {
  if (options.apiKey) {
    return options.apiKey;
  }

  const fromEnv = sources.env['TURNAROUND_API_KEY'];

  if (fromEnv) {
    return fromEnv;
  }

  const file = resolve(sources.cwd, sources.env['TURNAROUND_DATA_DIR'] ?? 'data', 'api-key');
  const read = sources.readFile ?? ((path: string) => readFileSync(path, 'utf8'));

  try {
    const key = read(file).trim();

    if (key) {
      return key;
    }
  } catch {
    // Reported below with every place that was looked at.
  }

  throw new SimulatorError(
    'SIMULATOR.NO_API_KEY',
    `no admin API key: pass --api-key, set TURNAROUND_API_KEY, or run from the folder where npm start wrote ${file}`,
  );
}
