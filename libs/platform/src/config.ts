import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Everything the services read from the environment, validated once at boot. Nothing else in the
 * code base reads `process.env`.
 */
export interface TurnaroundConfig {
  dataDir: string;
  /** PostgreSQL URL; absent means SQLite files under dataDir (the embedded default). */
  databaseUrl?: string;
  /** RabbitMQ URL; absent means the in-process bus (embedded default only). */
  amqpUrl?: string;
  /** Prefix of every exchange and queue, so installations can share one broker. */
  busNamespace: string;
  host: string;
  port: number;
  /** The base URL devices and operators reach the service at (check-in, commands, enrollment). */
  publicUrl: string;
  apiKey: string;
  /** 32-byte key that encrypts escrowed bootstrap tokens (AES-256-GCM). */
  escrowKey: Buffer;
  caCertificatePath: string;
  caPrivateKeyPath: string;
  pushTopic: string;
  organization: string;
  logLevel: string;
  requestTimeoutMs: number;
  releaseTimeoutSeconds: number;
  phaseDeadlineSeconds: number;
  maxBodyBytes: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG.INVALID';

  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads the configuration. Secrets that the embedded default needs and the operator did not give
 * (API key, escrow key) are generated once into files under the data directory, so a fresh clone
 * runs with no set-up and keeps its keys across restarts.
 */
export function loadConfig(env: Env = process.env, defaults: { port: number } = { port: 8080 }): TurnaroundConfig {
  const problems: string[] = [];
  const dataDir = resolve(env.TURNAROUND_DATA_DIR ?? 'data');
  const port = integerIn(env, 'PORT', defaults.port, 0, 65535, problems);
  const host = env.HOST ?? '127.0.0.1';
  const publicUrl = (env.TURNAROUND_PUBLIC_URL ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) {
    problems.push(`TURNAROUND_PUBLIC_URL must be an http(s) URL, got ${publicUrl}`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
  }
  const amqpUrl = env.AMQP_URL || undefined;
  if (amqpUrl && !/^amqps?:\/\//.test(amqpUrl)) {
    problems.push('AMQP_URL must be an amqp:// URL (leave it unset for the in-process bus)');
  }
  const busNamespace = env.TURNAROUND_BUS_NAMESPACE ?? 'turnaround';
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(busNamespace)) {
    problems.push('TURNAROUND_BUS_NAMESPACE must be lower-case letters, digits and dashes');
  }
  const pushTopic = env.TURNAROUND_PUSH_TOPIC ?? 'com.apple.mgmt.External.turnaround-development';
  if (!pushTopic.startsWith('com.apple.mgmt.')) {
    problems.push('TURNAROUND_PUSH_TOPIC must start with com.apple.mgmt. (Apple requires it)');
  }
  const escrowKey = secret(env, 'TURNAROUND_ESCROW_KEY', resolve(dataDir, 'escrow.key'), 32, problems);
  const apiKey = env.TURNAROUND_API_KEY ?? secretFile(resolve(dataDir, 'api-key'), () => randomBytes(24).toString('base64url'));
  // An empty or short key would let anyone drive the admin API; refuse to start instead.
  if (apiKey.length < 16) {
    problems.push('TURNAROUND_API_KEY must be at least 16 characters (unset it to have one generated)');
  }
  const config: TurnaroundConfig = {
    dataDir,
    databaseUrl,
    amqpUrl,
    busNamespace,
    host,
    port,
    publicUrl,
    apiKey,
    escrowKey,
    caCertificatePath: resolve(env.TURNAROUND_CA_CERT ?? resolve(dataDir, 'ca.crt')),
    caPrivateKeyPath: resolve(env.TURNAROUND_CA_KEY ?? resolve(dataDir, 'ca.key')),
    pushTopic,
    organization: env.TURNAROUND_ORGANIZATION ?? 'Turnaround',
    logLevel: env.LOG_LEVEL ?? 'info',
    requestTimeoutMs: integerIn(env, 'TURNAROUND_REQUEST_TIMEOUT_MS', 2_000, 50, 60_000, problems),
    releaseTimeoutSeconds: integerIn(env, 'TURNAROUND_RELEASE_TIMEOUT_SECONDS', 600, 1, 86_400, problems),
    phaseDeadlineSeconds: integerIn(env, 'TURNAROUND_PHASE_DEADLINE_SECONDS', 3_600, 1, 604_800, problems),
    maxBodyBytes: integerIn(env, 'TURNAROUND_MAX_BODY_BYTES', 8 * 1024 * 1024, 1024, 64 * 1024 * 1024, problems),
  };
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  return config;
}

function integerIn(env: Env, key: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[key];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key} must be an integer from ${min} to ${max}, got ${raw}`);

    return fallback;
  }

  return value;
}

function secret(env: Env, key: string, file: string, bytes: number, problems: string[]): Buffer {
  const raw = env[key];
  if (raw !== undefined) {
    const value = Buffer.from(raw, 'base64');
    if (value.length !== bytes) {
      problems.push(`${key} must be ${bytes} bytes, base64-encoded`);
    }

    return value;
  }

  return Buffer.from(secretFile(file, () => randomBytes(bytes).toString('base64')), 'base64');
}

function secretFile(file: string, generate: () => string): string {
  if (existsSync(file)) {
    return readFileSync(file, 'utf8').trim();
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const value = generate();
  try {
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    // Another service process of the same installation created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return readFileSync(file, 'utf8').trim();
    }
    throw error;
  }

  return value;
}
