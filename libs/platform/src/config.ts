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
  /**
   * Who publishes each service's outbox: the service's own process (`in-process`, the default),
   * or a separate relay process (`external`, PostgreSQL only).
   */
  outboxRelay: 'in-process' | 'external';
  host: string;
  port: number;
  /** The base URL devices and operators reach the service at (check-in, commands, enrollment). */
  publicUrl: string;
  apiKey: string;
  /** The key-encryption keys that wrap the data keys of escrowed secrets. */
  escrowKeyRing: EscrowKeyRing;
  /** Apple's escrowKeyUnlock endpoint; absent means Activation Lock cannot be cleared. */
  activationLockUnlockUrl?: string;
  /** PEM client certificate and key for the unlock endpoint (Apple wants the MDM push certificate). */
  activationLockClientCertPath?: string;
  activationLockClientKeyPath?: string;
  caCertificatePath: string;
  caPrivateKeyPath: string;
  /**
   * Lower-case name of the header a TLS-terminating proxy passes the device's client certificate
   * in; absent means devices prove themselves by Mdm-Signature only.
   */
  clientCertificateHeader?: string;
  pushTopic: string;
  organization: string;
  logLevel: string;
  requestTimeoutMs: number;
  releaseTimeoutSeconds: number;
  phaseDeadlineSeconds: number;
  maxBodyBytes: number;
  /** Days finished commands and finished RTS cycles are kept after they ended. */
  retentionDays: number;
  /** Days escrow audit rows are kept (the rows about a secret still in force stay longer). */
  auditRetentionDays: number;
  /** Days a handled message's id is kept to recognise a redelivery of it. */
  inboxRetentionDays: number;
}

/** Where the services' tables are: all the migrate command needs, without the services' secrets. */
export type DatabaseConfig = Pick<TurnaroundConfig, 'dataDir' | 'databaseUrl'>;

/**
 * Several 32-byte keys by id. The active one wraps every new data key; the others stay so that data
 * keys wrapped under them still open until they are re-wrapped.
 */
export interface EscrowKeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

/**
 * The id under which the single key of earlier versions (`<dataDir>/escrow.key`) joins the ring.
 * Rows sealed before the ring existed name no key, and open under the key with this id.
 */
export const ADOPTED_ESCROW_KEY_ID = 'escrow.key';

const ESCROW_KEY_BYTES = 32;
const ESCROW_KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class ConfigError extends Error {
  readonly code = 'CONFIG.INVALID';

  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads the configuration. Secrets that the embedded default needs and the operator did not give
 * (API key, escrow key ring) are generated once into files under the data directory, so a fresh clone
 * runs with no set-up and keeps its keys across restarts.
 */
export function loadConfig(
  env: Env = process.env,
  defaults: { port: number } = { port: 8080 },
): TurnaroundConfig {
  const problems: string[] = [];
  const dataDir = resolve(env.TURNAROUND_DATA_DIR ?? 'data');
  const port = integerIn(env, 'PORT', defaults.port, 0, 65535, problems);
  const host = env.HOST ?? '127.0.0.1';
  const publicUrl = (env.TURNAROUND_PUBLIC_URL ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) {
    problems.push(`TURNAROUND_PUBLIC_URL must be an http(s) URL, got ${publicUrl}`);
  }
  const { databaseUrl } = readDatabaseConfig(env, problems);
  const amqpUrl = env.AMQP_URL || undefined;
  if (amqpUrl && !/^amqps?:\/\//.test(amqpUrl)) {
    problems.push('AMQP_URL must be an amqp:// URL (leave it unset for the in-process bus)');
  } else if (amqpUrl && !isAmqpsOrLoopback(amqpUrl) && env.TURNAROUND_AMQP_PLAINTEXT !== 'allow') {
    // Requests between services carry bootstrap tokens and Wi-Fi passwords.
    problems.push(
      'AMQP_URL must be amqps:// unless the broker is on this machine: requests between services carry secrets (TURNAROUND_AMQP_PLAINTEXT=allow accepts a plain amqp:// broker on a network you trust)',
    );
  }
  const busNamespace = env.TURNAROUND_BUS_NAMESPACE ?? 'turnaround';
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(busNamespace)) {
    problems.push('TURNAROUND_BUS_NAMESPACE must be lower-case letters, digits and dashes');
  }
  const outboxRelay = env.TURNAROUND_OUTBOX_RELAY || 'in-process';
  if (outboxRelay !== 'in-process' && outboxRelay !== 'external') {
    problems.push(`TURNAROUND_OUTBOX_RELAY must be in-process or external, got ${outboxRelay}`);
  } else if (outboxRelay === 'external' && !databaseUrl) {
    // A relay in another process cannot read this process's SQLite files safely.
    problems.push('TURNAROUND_OUTBOX_RELAY=external needs DATABASE_URL (PostgreSQL)');
  }
  const pushTopic = env.TURNAROUND_PUSH_TOPIC ?? 'com.apple.mgmt.External.turnaround-development';
  if (!pushTopic.startsWith('com.apple.mgmt.')) {
    problems.push('TURNAROUND_PUSH_TOPIC must start with com.apple.mgmt. (Apple requires it)');
  }
  const escrowKeyRing = loadEscrowKeyRing(env, dataDir, problems);
  const activationLockUnlockUrl = env.TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL || undefined;
  if (activationLockUnlockUrl && !isHttpUrl(activationLockUnlockUrl)) {
    problems.push(
      `TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL must be an http(s) URL, got ${activationLockUnlockUrl}`,
    );
  } else if (activationLockUnlockUrl && !isHttpsOrLoopback(activationLockUnlockUrl)) {
    // The bypass code travels in the request body: in clear text only to a fake on this machine.
    problems.push(
      `TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL must be https unless it points at a loopback address (a local fake), got ${activationLockUnlockUrl}`,
    );
  }
  const activationLockClientCertPath = existingFile(
    env,
    'TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT',
    problems,
  );
  const activationLockClientKeyPath = existingFile(
    env,
    'TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY',
    problems,
  );
  if (!env.TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT !== !env.TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY) {
    problems.push(
      'TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT and TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY go together (the MDM push certificate and its key)',
    );
  }
  const clientCertificateHeader = readClientCertificateHeader(env, problems);
  const apiKey =
    env.TURNAROUND_API_KEY ??
    secretFile(resolve(dataDir, 'api-key'), () => randomBytes(24).toString('base64url'));
  // An empty or short key would let anyone drive the admin API; refuse to start instead.
  if (apiKey.length < 16) {
    problems.push(
      'TURNAROUND_API_KEY must be at least 16 characters (unset it to have one generated)',
    );
  }
  const config: TurnaroundConfig = {
    dataDir,
    databaseUrl,
    amqpUrl,
    busNamespace,
    outboxRelay: outboxRelay === 'external' ? 'external' : 'in-process',
    host,
    port,
    publicUrl,
    apiKey,
    escrowKeyRing,
    activationLockUnlockUrl,
    activationLockClientCertPath,
    activationLockClientKeyPath,
    caCertificatePath: resolve(env.TURNAROUND_CA_CERT ?? resolve(dataDir, 'ca.crt')),
    caPrivateKeyPath: resolve(env.TURNAROUND_CA_KEY ?? resolve(dataDir, 'ca.key')),
    clientCertificateHeader,
    pushTopic,
    organization: env.TURNAROUND_ORGANIZATION ?? 'Turnaround',
    logLevel: env.LOG_LEVEL ?? 'info',
    requestTimeoutMs: integerIn(env, 'TURNAROUND_REQUEST_TIMEOUT_MS', 2_000, 50, 60_000, problems),
    releaseTimeoutSeconds: integerIn(
      env,
      'TURNAROUND_RELEASE_TIMEOUT_SECONDS',
      600,
      1,
      86_400,
      problems,
    ),
    phaseDeadlineSeconds: integerIn(
      env,
      'TURNAROUND_PHASE_DEADLINE_SECONDS',
      3_600,
      1,
      604_800,
      problems,
    ),
    maxBodyBytes: integerIn(
      env,
      'TURNAROUND_MAX_BODY_BYTES',
      8 * 1024 * 1024,
      1024,
      64 * 1024 * 1024,
      problems,
    ),
    retentionDays: integerIn(env, 'TURNAROUND_RETENTION_DAYS', 30, 1, 36_500, problems),
    // A year: security audits (SOC 2, ISO 27001) cover twelve-month periods; the rows are small.
    auditRetentionDays: integerIn(env, 'TURNAROUND_AUDIT_RETENTION_DAYS', 365, 1, 36_500, problems),
    // Redeliveries come within minutes; a week covers a broker or relay down over a long weekend.
    inboxRetentionDays: integerIn(env, 'TURNAROUND_INBOX_RETENTION_DAYS', 7, 1, 36_500, problems),
  };
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  return config;
}

// Headers a device or a client sets itself: naming one would let anyone claim any device.
const NOT_A_PROXY_HEADER = new Set(['mdm-signature', 'authorization', 'cookie', 'host', 'content-type']);

function readClientCertificateHeader(env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  const name = env.TURNAROUND_CLIENT_CERT_HEADER?.trim();
  if (!name) {
    return undefined;
  }
  const header = name.toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) {
    problems.push(`TURNAROUND_CLIENT_CERT_HEADER must be an HTTP header name, got ${name}`);
  } else if (NOT_A_PROXY_HEADER.has(header)) {
    problems.push(
      `TURNAROUND_CLIENT_CERT_HEADER must be a header only the proxy sets (e.g. X-Client-Cert), not ${name}`,
    );
  }

  return header;
}

/**
 * Only the database settings: what the migrate command reads. Unlike {@link loadConfig} it
 * generates no keys, so an init container that migrates writes nothing into the data directory.
 */
export function loadDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const problems: string[] = [];
  const config = readDatabaseConfig(env, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  return config;
}

function readDatabaseConfig(env: Env, problems: string[]): DatabaseConfig {
  const dataDir = resolve(env.TURNAROUND_DATA_DIR ?? 'data');
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
  }

  return { dataDir, databaseUrl };
}

function integerIn(
  env: Env,
  key: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
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

/**
 * The escrow key ring: the file TURNAROUND_ESCROW_KEY_RING names, or `<dataDir>/escrow-keys.json`,
 * generated with one key on first start. A data directory of an earlier version keeps its
 * `escrow.key` as the ring's first key, or every token escrowed under it would be lost.
 */
function loadEscrowKeyRing(env: Env, dataDir: string, problems: string[]): EscrowKeyRing {
  const empty: EscrowKeyRing = { activeKeyId: '', keys: new Map() };
  // Ignoring the old variable would generate a new ring and silently strand every token.
  if (env.TURNAROUND_ESCROW_KEY) {
    problems.push(
      `TURNAROUND_ESCROW_KEY is no longer read: put that key into the key ring file (TURNAROUND_ESCROW_KEY_RING) under the id ${ADOPTED_ESCROW_KEY_ID}`,
    );

    return empty;
  }
  const named = env.TURNAROUND_ESCROW_KEY_RING;
  if (named) {
    const file = resolve(named);
    // A mistyped path must not become a fresh ring that opens nothing.
    if (!existsSync(file)) {
      problems.push(`TURNAROUND_ESCROW_KEY_RING names ${file}, which does not exist`);

      return empty;
    }

    return parseEscrowKeyRing(readText(file, problems), file, problems) ?? empty;
  }
  const file = resolve(dataDir, 'escrow-keys.json');
  const legacyFile = resolve(dataDir, 'escrow.key');
  let first: { id: string; key: Buffer } = {
    id: `key-${new Date().toISOString().slice(0, 10)}`,
    key: randomBytes(ESCROW_KEY_BYTES),
  };
  if (!existsSync(file) && existsSync(legacyFile)) {
    const key = decodeKey(readText(legacyFile, problems) ?? '');
    if (!key) {
      problems.push(
        `${legacyFile} must hold ${ESCROW_KEY_BYTES} bytes, base64-encoded, to join the escrow key ring`,
      );

      return empty;
    }
    first = { id: ADOPTED_ESCROW_KEY_ID, key };
  }
  const text = secretFile(file, () =>
    JSON.stringify({ active: first.id, keys: { [first.id]: first.key.toString('base64') } }),
  );

  return parseEscrowKeyRing(text, file, problems) ?? empty;
}

/** Reads `{ "active": "<id>", "keys": { "<id>": "<base64 of 32 bytes>" } }`; null when unusable. */
function parseEscrowKeyRing(
  text: string | null,
  source: string,
  problems: string[],
): EscrowKeyRing | null {
  if (text === null) {
    return null;
  }
  const shape = 'expected {"active": "<id>", "keys": {"<id>": "<base64 of 32 bytes>", ...}}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push(`${source} is not JSON: ${shape}`);

    return null;
  }
  const { active, keys } = (isRecord(parsed) ? parsed : {}) as { active?: unknown; keys?: unknown };
  if (!isRecord(keys)) {
    problems.push(`${source} has no "keys" object: ${shape}`);

    return null;
  }
  const before = problems.length;
  const ring = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(keys)) {
    if (!ESCROW_KEY_ID.test(id)) {
      problems.push(
        `${source}: key id ${JSON.stringify(id.slice(0, 80))} must be 1 to 64 letters, digits, dots, dashes or underscores`,
      );
      continue;
    }
    const key = typeof value === 'string' ? decodeKey(value) : null;
    if (!key) {
      problems.push(`${source}: key ${id} must be ${ESCROW_KEY_BYTES} bytes, base64-encoded`);
      continue;
    }
    ring.set(id, key);
  }
  if (Object.keys(keys).length === 0) {
    problems.push(`${source} holds no keys: ${shape}`);
  }
  if (typeof active !== 'string' || !Object.hasOwn(keys, active)) {
    problems.push(`${source}: "active" must name one of its keys`);
  }

  return problems.length === before ? { activeKeyId: active as string, keys: ring } : null;
}

function decodeKey(text: string): Buffer | null {
  const trimmed = text.trim();
  // Buffer.from skips what is not base64, so a damaged key would decode to other bytes.
  if (!BASE64.test(trimmed)) {
    return null;
  }
  const key = Buffer.from(trimmed, 'base64');

  return key.length === ESCROW_KEY_BYTES ? key : null;
}

function readText(file: string, problems: string[]): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);

    return null;
  }
}

function existingFile(env: Env, key: string, problems: string[]): string | undefined {
  const raw = env[key];
  if (!raw) {
    return undefined;
  }
  const file = resolve(raw);
  if (!existsSync(file)) {
    problems.push(`${key} names ${file}, which does not exist`);
  }

  return file;
}

function isHttpsOrLoopback(value: string): boolean {
  const url = new URL(value);

  return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function isAmqpsOrLoopback(value: string): boolean {
  try {
    const url = new URL(value);

    return url.protocol === 'amqps:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);

    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
