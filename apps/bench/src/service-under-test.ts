import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import * as amqp from 'amqplib';
import pg from 'pg';

import { createLogger, SERVICE_NODE_FLAGS, serviceProcessEnv } from '@turnaround/platform';
import { freeLoopbackPort, freeLoopbackPortRange } from '@turnaround/testing';

import type { Cleanup } from './cleanup.js';
import { childrenOf, runs } from './proc.js';

export type Mode = 'embedded' | 'distributed';

export const MODES: readonly Mode[] = ['embedded', 'distributed'];

/** Where a load generator connects: device requests go straight to the service that answers them. */
export interface Target {
  host: string;
  port: number;
}

export interface ServiceProcessInfo {
  /** `embedded`, or the service's name; `router` for the launcher's path router. */
  name: string;
  pid: number;
}

export interface ServiceOptions {
  distDir: string;
  /** Holds this run's data folder and the services' log. */
  workDir: string;
  logLevel: string;
  postgresUrl: string;
  amqpUrl: string;
  cleanup: Cleanup;
  /** Embedded only: write a V8 CPU profile here when the process exits. */
  cpuProfileDir?: string;
}

const SERVICE_NAMES = ['checkin', 'commands', 'escrow', 'provisioning'] as const;
// Consecutive ports for the launcher: four services and a relay today, room for more.
const PORT_SPAN = 8;
const EVENT_CONSUMERS = ['commands', 'provisioning'] as const;
// Every queue kind the transport has declared in any version; deleting a missing one is harmless.
const QUEUE_KINDS = ['events', 'retry', 'dead-letter', 'requests'] as const;
const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;

const logger = createLogger('ServiceUnderTest');

/**
 * Turnaround as `npm start` or `npm run start:distributed` runs it, from the built dist/, on
 * loopback ports, with a data folder, database and bus namespace of this run's own. Stopping it
 * stops every process by pid and removes the database and the broker's queues.
 */
export class ServiceUnderTest {
  readonly apiKey = randomBytes(24).toString('base64url');
  /** Every device-facing and admin URL of the enrollment profile starts with this. */
  baseUrl = '';
  checkin: Target = { host: '127.0.0.1', port: 0 };
  commands: Target = { host: '127.0.0.1', port: 0 };
  /** The services' processes (one in embedded mode), by name. */
  services: ServiceProcessInfo[] = [];
  router?: ServiceProcessInfo;
  readonly logFile: string;

  private child?: ChildProcess;
  private readonly dataDir: string;
  private readonly run = `${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly namespace = `bench-${this.run}`;
  private readonly database = `turnaround_bench_${this.run.replace(/-/g, '_')}`;

  constructor(
    readonly mode: Mode,
    private readonly options: ServiceOptions,
  ) {
    this.dataDir = join(options.workDir, `data-${mode}`);
    this.logFile = join(options.workDir, `${mode}.log`);
  }

  /** The database of this run, for the distributed mode. */
  get databaseUrl(): string {
    const url = new URL(this.options.postgresUrl);

    url.pathname = `/${this.database}`;

    return url.toString();
  }

  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });

    const port = await freeLoopbackPort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      TURNAROUND_DATA_DIR: this.dataDir,
      TURNAROUND_PUBLIC_URL: `http://127.0.0.1:${port}`,
      TURNAROUND_API_KEY: this.apiKey,
      LOG_LEVEL: this.options.logLevel,
      DATABASE_URL: undefined,
      AMQP_URL: undefined,
    };

    this.baseUrl = `http://127.0.0.1:${port}`;
    if (this.mode === 'embedded') {
      this.checkin = { host: '127.0.0.1', port };
      this.commands = { host: '127.0.0.1', port };
      this.spawnProcess('embedded', env);
      await this.waitReady([port]);
      this.services = [{ name: 'embedded', pid: this.pid }];

      return;
    }

    await this.createDatabase();

    const base = await freeLoopbackPortRange(PORT_SPAN);

    env.DATABASE_URL = this.databaseUrl;
    env.AMQP_URL = this.options.amqpUrl;
    env.TURNAROUND_BUS_NAMESPACE = this.namespace;
    env.TURNAROUND_SERVICE_PORT_BASE = String(base);
    // The launcher's ports: check-in first, then commands, then the others.
    this.checkin = { host: '127.0.0.1', port: base };
    this.commands = { host: '127.0.0.1', port: base + 1 };
    this.spawnProcess('launcher', env);
    // The launcher opens its router once every process it starts listens.
    await this.waitListening(port);
    this.router = { name: 'router', pid: this.pid };
    this.services = this.launchedProcesses();
    for (const name of SERVICE_NAMES) {
      if (!this.services.some((entry) => entry.name === name)) {
        throw new Error(`the launcher started no ${name} process`);
      }
    }
    await this.waitReady(
      Array.from({ length: PORT_SPAN }, (_, offset) => base + offset),
      'listening only',
    );
  }

  /**
   * Every long-lived process the launcher started (the four services, and whatever else this
   * version runs beside them, such as the outbox relay), named after its app.
   */
  private launchedProcesses(): ServiceProcessInfo[] {
    return childrenOf(this.pid).flatMap((child) => {
      const app = /dist\/apps\/([^/]+)\/src\/main\.js/.exec(child.commandLine)?.[1];

      return app ? [{ name: app, pid: child.pid }] : [];
    });
  }

  /** The run's own database; none in embedded mode. */
  get databaseName(): string | null {
    return this.mode === 'embedded' ? null : this.database;
  }

  /** Service processes, and the router when there is one. */
  get allProcesses(): ServiceProcessInfo[] {
    return this.router ? [...this.services, this.router] : this.services;
  }

  /**
   * Waits until the services have handled every event published so far (queued commands in
   * particular). RabbitMQ says so by its queue counts; the in-process bus cannot be asked, and
   * delivers within a few ticks, so a short pause stands in.
   */
  async busQuiet(): Promise<void> {
    if (this.mode === 'embedded') {
      await sleep(500);

      return;
    }

    await withBroker(this.options.amqpUrl, async (count) => {
      let quietChecks = 0;

      for (let attempt = 0; attempt < 600 && quietChecks < 3; attempt += 1) {
        let waiting = 0;

        for (const queue of this.eventQueues()) {
          waiting += (await count(queue)) ?? 0;
        }
        quietChecks = waiting === 0 ? quietChecks + 1 : 0;
        await sleep(200);
      }
    });
  }

  /**
   * The queues events wait in: only commands and provisioning consume events. Versions of the
   * transport with a retry queue park messages there between tries.
   */
  private eventQueues(): string[] {
    return EVENT_CONSUMERS.flatMap((group) => [
      `${this.namespace}.${group}.events`,
      `${this.namespace}.${group}.retry`,
    ]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    // Found again when the start failed before they were known.
    const servicePids =
      this.mode !== 'distributed'
        ? []
        : this.services.length > 0
          ? this.services.map((entry) => entry.pid)
          : child?.pid !== undefined && child.exitCode === null
            ? childrenOf(child.pid).map((entry) => entry.pid)
            : [];

    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));

      child.kill('SIGTERM');
      await Promise.race([exited, sleep(STOP_GRACE_MS)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // The launcher stops its services itself; any it left behind are stopped here, by pid.
    for (const pid of servicePids) {
      await stopPid(pid, 'dist/apps/');
    }
    this.child = undefined;
  }

  private get pid(): number {
    const pid = this.child?.pid;

    if (pid === undefined) {
      throw new Error('the service process is not running');
    }

    return pid;
  }

  private spawnProcess(entry: 'embedded' | 'launcher', env: Record<string, string | undefined>) {
    const main = resolve(this.options.distDir, 'apps', entry, 'src', 'main.js');
    const profile = this.options.cpuProfileDir;
    // As `npm start` runs the embedded default (the launcher passes the same to its children).
    const nodeArgs = [...SERVICE_NODE_FLAGS];

    if (profile && entry === 'embedded') {
      mkdirSync(profile, { recursive: true });
      // The profile is written when the process exits by itself; the preload lets it be told to.
      nodeArgs.push(
        '--cpu-prof',
        `--cpu-prof-dir=${profile}`,
        '--import',
        resolve(this.options.distDir, 'apps', 'bench', 'src', 'exit-on-message.js'),
      );
    }

    const log = openSync(this.logFile, 'a');

    this.child = spawn(process.execPath, [...nodeArgs, main], {
      env: serviceProcessEnv(env),
      stdio: ['ignore', log, log, ...(profile ? ['ipc' as const] : [])],
    });
    closeSync(log);
    this.options.cleanup.add(`stop ${entry}`, () => this.stop());
    if (this.mode === 'distributed') {
      this.options.cleanup.add(`remove bus namespace ${this.namespace}`, () =>
        this.removeNamespace(),
      );
    }
    logger.info({ mode: this.mode, pid: this.child.pid, log: this.logFile }, 'service started');
  }

  /** Asks the profiled embedded process to exit normally, so V8 writes its CPU profile. */
  async exitForProfile(): Promise<void> {
    const child = this.child;

    if (!child?.connected) {
      throw new Error('the profiled process has no message channel');
    }

    const exited = new Promise((done) => child.once('exit', done));

    child.send('bench:exit');
    await Promise.race([exited, sleep(STOP_GRACE_MS * 3)]);
  }

  /** `listening only`: ports nothing listens on are skipped (the launcher's range has gaps). */
  private async waitReady(ports: number[], which: 'all' | 'listening only' = 'all'): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;

    for (const port of ports) {
      if (
        which === 'listening only' &&
        !(await answers(`http://127.0.0.1:${port}/readyz`, undefined))
      ) {
        continue;
      }
      while (!(await answers(`http://127.0.0.1:${port}/readyz`, 200))) {
        if (this.child?.exitCode !== null || Date.now() > deadline) {
          throw new Error(
            `${this.mode} service on port ${port} not ready (exit code ${this.child?.exitCode ?? 'none'}); log tail:\n${tail(this.logFile)}`,
          );
        }
        await sleep(250);
      }
    }
  }

  private async waitListening(port: number): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;

    // The router answers 404 for paths it does not route: any answer means it listens.
    while (!(await answers(`http://127.0.0.1:${port}/`, undefined))) {
      if (this.child?.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `the launcher's router on port ${port} does not answer (exit code ${this.child?.exitCode ?? 'none'}); log tail:\n${tail(this.logFile)}`,
        );
      }
      await sleep(250);
    }
  }

  private async createDatabase(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.postgresUrl });

    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${this.database}"`);
    } finally {
      await client.end();
    }
    this.options.cleanup.add(`drop database ${this.database}`, () => this.dropDatabase());
    logger.info({ database: this.database }, 'database created');
  }

  private async dropDatabase(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.postgresUrl });

    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
    logger.info({ database: this.database }, 'database dropped');
  }

  private async removeNamespace(): Promise<void> {
    await withBroker(this.options.amqpUrl, async (_count, remove) => {
      for (const group of SERVICE_NAMES) {
        for (const kind of QUEUE_KINDS) {
          await remove('queue', `${this.namespace}.${group}.${kind}`);
        }
      }
      for (const exchange of ['events', 'requests', 'dead-letter']) {
        await remove('exchange', `${this.namespace}.${exchange}`);
      }
    });
    logger.info({ namespace: this.namespace }, 'bus namespace removed');
  }
}

type CountQueue = (queue: string) => Promise<number | undefined>;
type Remove = (kind: 'queue' | 'exchange', name: string) => Promise<void>;

/**
 * A broker connection for the bench's own questions. A channel the broker closes (a queue this
 * version of the transport does not declare) is replaced, never left to crash the run.
 */
async function withBroker(
  url: string,
  work: (count: CountQueue, remove: Remove) => Promise<void>,
): Promise<void> {
  const connection = await amqp.connect(url);

  connection.on('error', (error: Error) =>
    logger.warn({ reason: error.message }, 'broker connection error'),
  );

  let channel: amqp.Channel | undefined;
  const open = async (): Promise<amqp.Channel> => {
    if (!channel) {
      const opened = await connection.createChannel();

      // A 404 closes the channel with an error event; the caller already got the rejection.
      opened.on('error', () => undefined);
      opened.on('close', () => {
        if (channel === opened) {
          channel = undefined;
        }
      });
      channel = opened;
    }

    return channel;
  };

  try {
    await work(
      async (queue) => {
        try {
          return (await (await open()).checkQueue(queue)).messageCount;
        } catch {
          return undefined;
        }
      },
      async (kind, name) => {
        const opened = await open();

        try {
          await (kind === 'queue' ? opened.deleteQueue(name) : opened.deleteExchange(name));
        } catch (error) {
          logger.warn({ [kind]: name, reason: (error as Error).message }, 'not removed');
        }
      },
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function answers(url: string, status: number | undefined): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });

    await response.arrayBuffer();

    return status === undefined || response.status === status;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after the grace, only while the pid still runs `commandPart`. */
async function stopPid(pid: number, commandPart: string): Promise<void> {
  if (!runs(pid, commandPart)) {
    return;
  }

  process.kill(pid, 'SIGTERM');

  const deadline = Date.now() + STOP_GRACE_MS;

  while (runs(pid, commandPart) && Date.now() < deadline) {
    await sleep(100);
  }
  if (runs(pid, commandPart)) {
    process.kill(pid, 'SIGKILL');
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4_000);
  } catch {
    return '(no log)';
  }
}
