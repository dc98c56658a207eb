import { fork } from 'node:child_process';
import { resolve } from 'node:path';

import { RequestSigner } from '@turnaround/identity';
import { createLogger } from '@turnaround/platform';
import { encodePlistXml, type PlistDict } from '@turnaround/protocol';
import {
  AdminClient,
  buildSimulatorConfiguration,
  TRIGGER_BATCH,
  type DeviceKeySource,
} from '@turnaround/simulator';

import type { EnrolledDevice } from './bench-device.js';
import type { Cleanup } from './cleanup.js';
import { enrollFleet } from './fleet.js';
import { httpRequest } from './keep-alive-client.js';
import {
  REQUEST_LABELS,
  type FixedRequest,
  type LoadJob,
  type LoadResult,
  type RequestKind,
  type WorkerMessage,
} from './load-job.js';
import { clockTicksPerSecond, runs } from './proc.js';
import type { ServiceUnderTest, Target } from './service-under-test.js';

export interface RequestPhaseOptions {
  kinds: readonly RequestKind[];
  connections: readonly number[];
  warmupMs: number;
  durationMs: number;
  /** Devices per pool (Idle; Authenticate and TokenUpdate; reports). */
  poolSize: number;
  /**
   * Commands queued across the report pool ahead of the first report level; later levels get
   * enough for their window at the pace of the level before, if that is more.
   */
  reportCommands: number;
  enrollConcurrency: number;
  seed: string;
  distDir: string;
  signal: AbortSignal;
  keys: DeviceKeySource;
}

export interface RequestPhaseOutcome {
  results: LoadResult[];
  /** Devices enrolled for the pools. */
  enrolled: number;
}

const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';
const COMMAND_CONTENT_TYPE = 'application/x-apple-aspen-mdm';
// The RTS configuration whose idle timeout makes every assignment queue a Settings command.
const SETTINGS_CONFIGURATION = 'bench-settings';
const SESSION_TIMEOUT_SECONDS = 3_600;

const logger = createLogger('BenchRequests');

/**
 * Device requests per second, latency and server CPU per request, for each kind at each number
 * of connections. Each kind has its own pool of enrolled, released devices: Idle devices have
 * empty queues; Authenticate and TokenUpdate devices send their check-ins again; report devices
 * (Vision Pros) get Settings commands queued through the admin API before each level, so every
 * report acknowledges a command that is really queued.
 */
export async function runRequestPhases(
  service: ServiceUnderTest,
  options: RequestPhaseOptions,
  cleanup: Cleanup,
): Promise<RequestPhaseOutcome> {
  const results: LoadResult[] = [];
  const wants = (kind: RequestKind): boolean => options.kinds.includes(kind);
  const pool = (name: string, platform: 'ios' | 'visionos') =>
    enrollPool(service, options, name, platform);
  const idlePool = wants('idle') ? await pool('idle', 'ios') : [];
  const checkinPool =
    wants('authenticate') || wants('token-update') ? await pool('checkin', 'ios') : [];
  const reportPool = wants('report') ? await pool('report', 'visionos') : [];
  const fixed: Record<Exclude<RequestKind, 'report'>, () => FixedRequest[]> = {
    idle: () => idlePool.map((device) => idleRequest(device, service.commands)),
    authenticate: () => checkinPool.map((device) => authenticateRequest(device, service.checkin)),
    'token-update': () => checkinPool.map((device) => tokenUpdateRequest(device, service.checkin)),
  };
  const reports = new ReportQueue(service, reportPool);

  for (const kind of options.kinds) {
    for (const connections of options.connections) {
      const job: LoadJob = {
        kind,
        target:
          kind === 'authenticate' || kind === 'token-update' ? service.checkin : service.commands,
        path: '/mdm/server',
        connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        pids: service.services.map((entry) => entry.pid),
        database: service.databaseName,
        clockTicks: clockTicksPerSecond(),
      };

      if (kind === 'report') {
        // Enough commands for the whole window at half again the last level's pace; what is
        // left over is simply expected in the next level.
        const last = results.filter((result) => result.kind === 'report').at(-1);
        const needed = last
          ? Math.ceil(
              ((last.requestsPerSecond * (options.warmupMs + options.durationMs)) / 1000) * 1.5,
            )
          : 0;

        job.reports = await reports.prepare(Math.max(options.reportCommands, needed));
      } else {
        job.fixed = fixed[kind]();
      }

      const outcome = await runWorker(job, options.distDir, cleanup);

      if (kind === 'report') {
        reports.settle(outcome.acknowledged);
      }
      // Service names read better than pids in the results.
      outcome.result.cpuMsByProcess = Object.fromEntries(
        service.services.map((entry) => [
          entry.name,
          outcome.result.cpuMsByProcess[String(entry.pid)] ?? 0,
        ]),
      );
      results.push(outcome.result);
      logger.info(
        {
          mode: service.mode,
          request: REQUEST_LABELS[kind],
          connections,
          perSecond: Math.round(outcome.result.requestsPerSecond),
          p50Ms: round(outcome.result.latencyMs.p50),
          p99Ms: round(outcome.result.latencyMs.p99),
          cpuMsPerRequest: round(outcome.result.cpuMsPerRequest, 3),
          generatorCores: round(outcome.result.generatorCpuMs / outcome.result.windowMs, 2),
          wrong: outcome.result.wrong,
          failed: outcome.result.failed,
        },
        'device requests measured',
      );
    }
  }

  return { results, enrolled: idlePool.length + checkinPool.length + reportPool.length };
}

async function enrollPool(
  service: ServiceUnderTest,
  options: RequestPhaseOptions,
  name: string,
  platform: 'ios' | 'visionos',
): Promise<EnrolledDevice[]> {
  const fleet = await enrollFleet({
    baseUrl: service.baseUrl,
    platform,
    seed: `${options.seed}-${name}`,
    count: options.poolSize,
    concurrency: options.enrollConcurrency,
    signal: options.signal,
    keys: options.keys,
  });

  if (fleet.failures.length > 0) {
    throw new Error(`the ${name} pool did not enroll: ${fleet.failures.slice(0, 3).join('; ')}`);
  }

  return fleet.enrolled;
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}

function signedRequest(
  device: EnrolledDevice,
  target: Target,
  url: string,
  contentType: string,
  message: PlistDict,
): FixedRequest {
  const body = encodePlistXml(message);
  const signature = new RequestSigner(device.identity).sign(body);
  const bytes = httpRequest(
    target,
    'PUT',
    pathOf(url),
    { 'Content-Type': contentType, 'Mdm-Signature': signature },
    body,
  );

  return { udid: device.hardware.udid, bytes: bytes.toString('base64') };
}

function idleRequest(device: EnrolledDevice, target: Target): FixedRequest {
  return signedRequest(device, target, device.serverUrl, COMMAND_CONTENT_TYPE, {
    UDID: device.hardware.udid,
    Status: 'Idle',
  });
}

function authenticateRequest(device: EnrolledDevice, target: Target): FixedRequest {
  const h = device.hardware;

  return signedRequest(device, target, device.checkInUrl, CHECKIN_CONTENT_TYPE, {
    MessageType: 'Authenticate',
    UDID: h.udid,
    Topic: device.topic,
    OSVersion: h.osVersion,
    BuildVersion: h.buildVersion,
    ProductName: h.productName,
    SerialNumber: h.serialNumber,
  });
}

/** The device's push token again, outside Setup Assistant: the common TokenUpdate. */
function tokenUpdateRequest(device: EnrolledDevice, target: Target): FixedRequest {
  return signedRequest(device, target, device.checkInUrl, CHECKIN_CONTENT_TYPE, {
    MessageType: 'TokenUpdate',
    UDID: device.hardware.udid,
    Topic: device.topic,
    Token: Buffer.from(device.pushToken, 'base64'),
    PushMagic: device.pushMagic,
    AwaitingConfiguration: false,
  });
}

/**
 * The Settings commands queued for the report pool, counted per device: each assignment of the
 * configuration queues one for every Vision Pro (its idle timeout), and each acknowledgement
 * takes one away. What a level leaves unanswered is expected in the next one.
 */
class ReportQueue {
  private readonly outstanding = new Map<string, number>();
  private readonly admin: AdminClient;
  private saved = false;

  constructor(
    private readonly service: ServiceUnderTest,
    private readonly devices: EnrolledDevice[],
  ) {
    this.admin = new AdminClient(service.baseUrl, service.apiKey, undefined, 120_000);
    for (const device of devices) {
      this.outstanding.set(device.hardware.udid, 0);
    }
  }

  /** Queues commands until at least `total` wait across the pool, then lists them per device. */
  async prepare(total: number): Promise<LoadJob['reports']> {
    if (!this.saved) {
      const configuration = buildSimulatorConfiguration('bench', { platform: 'visionos' });

      configuration.temporarySessionTimeout = SESSION_TIMEOUT_SECONDS;
      await this.admin.saveConfiguration(SETTINGS_CONFIGURATION, configuration);
      this.saved = true;
    }

    const udids = this.devices.map((device) => device.hardware.udid);

    if (udids.length === 0) {
      throw new Error('no report devices to queue commands for');
    }

    const waiting = (): number => [...this.outstanding.values()].reduce((a, b) => a + b, 0);

    while (waiting() < total) {
      for (let start = 0; start < udids.length; start += TRIGGER_BATCH) {
        const batch = udids.slice(start, start + TRIGGER_BATCH);
        const answers = await this.admin.assign(batch, SETTINGS_CONFIGURATION);

        for (const answer of answers) {
          if (answer.error) {
            throw new Error(`assignment refused for ${answer.udid}: ${answer.error.code}`);
          }
          this.outstanding.set(answer.udid, (this.outstanding.get(answer.udid) ?? 0) + 1);
        }
      }
    }
    await this.service.busQuiet();

    return this.devices.map((device) => ({
      hardware: device.hardware,
      identity: device.identity,
      commands: this.outstanding.get(device.hardware.udid) ?? 0,
    }));
  }

  settle(acknowledged: Record<string, number>): void {
    for (const [udid, count] of Object.entries(acknowledged)) {
      this.outstanding.set(udid, Math.max(0, (this.outstanding.get(udid) ?? 0) - count));
    }
  }
}

/** Forks the load generator for one job and waits for its result. */
async function runWorker(
  job: LoadJob,
  distDir: string,
  cleanup: Cleanup,
): Promise<{ result: LoadResult; acknowledged: Record<string, number> }> {
  const script = resolve(distDir, 'apps', 'bench', 'src', 'load-worker.js');
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid;
  const forget = cleanup.add(`stop load generator ${pid}`, () => {
    if (pid !== undefined && runs(pid, 'load-worker.js')) {
      process.kill(pid, 'SIGKILL');
    }
  });

  try {
    return await new Promise((done, fail) => {
      child.once('message', (message: WorkerMessage) => {
        if (message.type === 'result') {
          done({ result: message.result, acknowledged: message.acknowledged });
        } else if (message.type === 'error') {
          fail(new Error(`load generator: ${message.message}`));
        }
      });
      child.once('exit', (code) => fail(new Error(`load generator exited with ${code}`)));
      child.send({ type: 'job', job } satisfies WorkerMessage);
    });
  } finally {
    await forget();
  }
}

function round(value: number | null, digits = 1): number | null {
  return value === null ? null : Number(value.toFixed(digits));
}
