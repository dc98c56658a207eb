import { ChildProcess, spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { createLogger, SERVICE_NODE_FLAGS, serviceProcessEnv } from '@turnaround/platform';

/**
 * Distributed mode on one machine: the four services and the outbox relay as separate processes on
 * RabbitMQ and PostgreSQL, behind a small path router on one port, as an ingress would put them on Kubernetes.
 * Environment: AMQP_URL and DATABASE_URL (defaults: the local RabbitMQ and PostgreSQL), PORT
 * (the router's, 8080), TURNAROUND_SERVICE_PORT_BASE (the four services', 8081 to 8084).
 */
const logger = createLogger('Launcher');
const here = dirname(fileURLToPath(import.meta.url));
const appsDir = resolve(here, '../..');

const env = process.env;

function port(name: string, fallback: number): number {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_531) {
    logger.fatal({ variable: name, value: raw }, 'not a usable port number');
    process.exit(1);
  }

  return value;
}

const portBase = port('TURNAROUND_SERVICE_PORT_BASE', 8081);

const SERVICES = [
  { name: 'checkin', port: portBase, prefixes: ['/mdm/checkin', '/mdm/enroll'] },
  { name: 'commands', port: portBase + 1, prefixes: ['/mdm/server'] },
  { name: 'escrow', port: portBase + 2, prefixes: [] },
  { name: 'provisioning', port: portBase + 3, prefixes: ['/api'] },
  // Publishes the four services' outboxes; they run with TURNAROUND_OUTBOX_RELAY=external.
  { name: 'relay', port: portBase + 4, prefixes: [] },
] as const;

const routerPort = port('PORT', 8080);
const databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/turnaround';
const amqpUrl = env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const publicUrl = env.TURNAROUND_PUBLIC_URL ?? `http://127.0.0.1:${routerPort}`;
const children = new Map<string, ChildProcess>();
let stopping = false;

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      logger.info({ database: name }, 'database created');
    }
  } finally {
    await client.end();
  }
}

/**
 * Runs the migrate command, as the init containers of a cluster do, and waits for it: services on
 * PostgreSQL refuse to start on a schema that is behind. It is the same entry point rather than an
 * import, so the launcher stays a process supervisor that knows no service's tables.
 */
async function migrate(): Promise<void> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(appsDir, 'migrate/src/main.js')], {
    env: serviceProcessEnv({ ...env, DATABASE_URL: databaseUrl }),
    stdio: 'inherit',
  });
  const code = await new Promise<number | null>((done, fail) => {
    child.on('error', fail);
    child.on('exit', (exitCode) => done(exitCode));
  });
  if (code !== 0) {
    throw new Error(`the migrations failed (exit code ${code})`);
  }
}

/** Exits in a row, each soon after its start, after which a service counts as crash-looping. */
const CRASH_LOOP_STARTS = 3;
const STABLE_AFTER_MS = 10_000;
const quickExits = new Map<string, number>();

/**
 * Starts a service and, like Kubernetes, starts it again when it exits: a killed or crashed
 * service comes back and the others carry on (the outbox and the broker keep what it missed).
 * One that keeps exiting right after its start stops everything, with the reason in the log.
 */
function start(service: (typeof SERVICES)[number]): void {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(appsDir, service.name, 'src/main.js')], {
    env: serviceProcessEnv({ ...env, PORT: String(service.port), DATABASE_URL: databaseUrl, AMQP_URL: amqpUrl, TURNAROUND_PUBLIC_URL: publicUrl, TURNAROUND_OUTBOX_RELAY: 'external' }),
    stdio: 'inherit',
  });
  children.set(service.name, child);
  child.on('exit', (code, signal) => {
    children.delete(service.name);
    if (stopping) {
      return;
    }
    const quick = Date.now() - startedAt < STABLE_AFTER_MS ? (quickExits.get(service.name) ?? 0) + 1 : 0;
    quickExits.set(service.name, quick);
    if (quick >= CRASH_LOOP_STARTS) {
      logger.error({ service: service.name, code, signal, exits: quick }, 'service keeps exiting right after its start; stopping the others');
      void stop(1);

      return;
    }
    logger.error({ service: service.name, code, signal }, 'service exited; starting it again');
    setTimeout(() => {
      if (!stopping) {
        start(service);
      }
    }, 1_000);
  });
}

async function waitUntilListening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });

      return;
    } catch {
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

function route(path: string): number | undefined {
  return SERVICES.find((service) => service.prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`)))?.port;
}

/** How long the services get to finish what they are doing before they are killed. */
const STOP_GRACE_MS = 15_000;

/** Stops every service, waits for each to exit (killing what outlives the grace time), then exits. */
async function stop(code: number, signal?: NodeJS.Signals): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  const startedAt = performance.now();
  logger.info({ signal }, 'shutdown started');
  const running = [...children.entries()];
  const exited = running.map(
    ([, child]) =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          done();

          return;
        }
        child.once('exit', () => done());
      }),
  );
  for (const [, child] of running) {
    child.kill('SIGTERM');
  }
  const grace = setTimeout(() => {
    const left = running.filter(([, child]) => child.exitCode === null && child.signalCode === null);
    logger.warn({ services: left.map(([name]) => name), graceMs: STOP_GRACE_MS }, 'services still running after the grace time; killing them');
    for (const [, child] of left) {
      child.kill('SIGKILL');
    }
  }, STOP_GRACE_MS);
  await Promise.all(exited);
  clearTimeout(grace);
  logger.info({ signal, durationMs: Math.round(performance.now() - startedAt) }, 'shutdown finished');
  process.exit(code);
}

async function main(): Promise<void> {
  await ensureDatabase(databaseUrl);
  await migrate();
  // check-in first: it creates the CA the others verify signatures against.
  start(SERVICES[0]);
  await waitUntilListening(SERVICES[0].port, 30_000);
  for (const service of SERVICES.slice(1)) {
    start(service);
  }
  await Promise.all(SERVICES.map((service) => waitUntilListening(service.port, 30_000)));
  const router = createServer((incoming, outgoing) => {
    const port = route(incoming.url ?? '/');
    if (!port) {
      outgoing.writeHead(404).end();

      return;
    }
    const proxied = httpRequest({ host: '127.0.0.1', port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    proxied.on('error', () => outgoing.writeHead(502).end());
    incoming.pipe(proxied);
  });
  router.keepAliveTimeout = 65_000;
  router.listen(routerPort, '127.0.0.1', () => logger.info({ url: publicUrl, services: SERVICES.map((service) => `${service.name}:${service.port}`) }, 'distributed services started'));
  process.on('SIGINT', (signal) => void stop(0, signal));
  process.on('SIGTERM', (signal) => void stop(0, signal));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'could not start the distributed services');
  void stop(1);
});
