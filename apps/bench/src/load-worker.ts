import { setTimeout as sleep } from 'node:timers/promises';

import { RequestSigner } from '@turnaround/identity';
import { encodePlistXml, parseCommand, type CommandEnvelope } from '@turnaround/protocol';
import { CommandResponder, percentile, type DeviceView } from '@turnaround/simulator';

import { httpRequest, KeepAliveConnection, type HttpAnswer } from './keep-alive-client.js';
import type { LoadJob, LoadResult, ReportDevice, WorkerMessage } from './load-job.js';
import { clockTicksPerSecond, cpuBetween, cpuMsByPid, postgresBackendsOf } from './proc.js';

/**
 * The load generator: a process of its own (forked by the bench), so that sending requests and
 * timing them never shares an event loop with the service it measures. It runs one job, sends the
 * result back and exits.
 */

const COMMAND_CONTENT_TYPE = 'application/x-apple-aspen-mdm';
const MAX_PROBLEMS = 5;
// After a failed request (connection refused, reset), before the lane tries again.
const FAILURE_PAUSE_MS = 10;

type Phase = 'warm-up' | 'measuring' | 'done';

/** The measured window: what completed inside it, and the servers' CPU time at its edges. */
class Window {
  phase: Phase = 'warm-up';
  answered = 0;
  wrong = 0;
  failed = 0;
  serverRequests = 0;
  sessionIdles = 0;
  earlyEmptyQueues = 0;
  readonly latencies: number[] = [];
  readonly problems = new Set<string>();
  private startNs = 0n;
  private endNs = 0n;
  private cpuAtStart = new Map<number, number>();
  private cpuAtEnd = new Map<number, number>();
  private ownAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private ownUsed: NodeJS.CpuUsage = { user: 0, system: 0 };
  private databaseAtStart = new Map<number, number>();
  private databaseAtEnd = new Map<number, number>();

  constructor(private readonly job: LoadJob) {}

  open(): void {
    if (this.phase !== 'warm-up') {
      return;
    }

    this.cpuAtStart = cpuMsByPid(this.job.pids, this.job.clockTicks);
    this.databaseAtStart = this.databaseCpu();
    this.ownAtStart = process.cpuUsage();
    this.startNs = process.hrtime.bigint();
    this.phase = 'measuring';
  }

  /** At the end of the duration, or as soon as the queued work runs out. */
  close(): void {
    if (this.phase === 'done') {
      return;
    }
    if (this.phase === 'warm-up') {
      this.open();
    }

    this.endNs = process.hrtime.bigint();
    this.cpuAtEnd = cpuMsByPid(this.job.pids, this.job.clockTicks);
    this.databaseAtEnd = this.databaseCpu();
    this.ownUsed = process.cpuUsage(this.ownAtStart);
    this.phase = 'done';
  }

  private databaseCpu(): Map<number, number> {
    return this.job.database === null
      ? new Map()
      : cpuMsByPid(postgresBackendsOf(this.job.database), this.job.clockTicks);
  }

  get measuring(): boolean {
    return this.phase === 'measuring';
  }

  /** A measured request's outcome; `problem` undefined means the expected answer. */
  record(startedNs: bigint, problem: string | undefined): void {
    if (!this.measuring) {
      return;
    }

    this.serverRequests += 1;
    if (problem === undefined) {
      this.answered += 1;
      this.latencies.push(Number(process.hrtime.bigint() - startedNs) / 1e6);
    } else {
      this.wrong += 1;
      this.note(problem);
    }
  }

  /** A request the server answered that is not itself measured (the Idle opening a session). */
  recordAside(problem: string | undefined): void {
    if (!this.measuring) {
      return;
    }

    this.serverRequests += 1;
    this.sessionIdles += 1;
    if (problem !== undefined) {
      this.wrong += 1;
      this.note(problem);
    }
  }

  recordFailure(error: unknown): void {
    if (this.measuring) {
      this.failed += 1;
      this.note((error as Error).message);
    }
  }

  note(problem: string): void {
    if (this.problems.size < MAX_PROBLEMS) {
      this.problems.add(problem);
    }
  }

  result(devices: number): LoadResult {
    const windowMs = Number(this.endNs - this.startNs) / 1e6;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const serverCpuMs = cpuBetween(this.cpuAtStart, this.cpuAtEnd);
    const cpuMsByProcess = Object.fromEntries(
      this.job.pids.map((pid) => [
        String(pid),
        (this.cpuAtEnd.get(pid) ?? 0) - (this.cpuAtStart.get(pid) ?? 0),
      ]),
    );
    const mean =
      sorted.length === 0 ? null : sorted.reduce((sum, value) => sum + value, 0) / sorted.length;

    return {
      kind: this.job.kind,
      connections: this.job.connections,
      windowMs,
      answered: this.answered,
      wrong: this.wrong,
      failed: this.failed,
      problems: [...this.problems],
      requestsPerSecond: windowMs > 0 ? (this.answered * 1000) / windowMs : 0,
      latencyMs: {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: percentile(sorted, 100),
        mean,
      },
      serverCpuMs,
      cpuMsByProcess,
      databaseCpuMs:
        this.job.database === null
          ? null
          : cpuBetween(this.databaseAtStart, this.databaseAtEnd, 'count'),
      generatorCpuMs: (this.ownUsed.user + this.ownUsed.system) / 1000,
      serverRequests: this.serverRequests,
      cpuMsPerRequest: this.serverRequests > 0 ? serverCpuMs / this.serverRequests : null,
      windowStartUs: Number(this.startNs / 1000n),
      windowEndUs: Number(this.endNs / 1000n),
      ...(this.job.kind === 'report'
        ? { sessionIdles: this.sessionIdles, earlyEmptyQueues: this.earlyEmptyQueues }
        : {}),
      devices,
    };
  }
}

/** Idle, Authenticate, TokenUpdate: the same signed bytes, a zero-byte 200 expected each time. */
async function fixedLane(
  lane: number,
  job: LoadJob,
  requests: Buffer[],
  connection: KeepAliveConnection,
  window: Window,
): Promise<void> {
  // Lane i speaks for devices i, i + connections, ...: no two lanes share a device when there
  // are at least as many devices as connections.
  for (let index = lane % requests.length; window.phase !== 'done';) {
    const started = process.hrtime.bigint();

    try {
      const answer = await connection.send(requests[index] as Buffer);

      window.record(started, emptyOkProblem(answer));
    } catch (error) {
      window.recordFailure(error);
      await sleep(FAILURE_PAUSE_MS);
    }
    index = (index + job.connections) % requests.length;
  }
}

function emptyOkProblem(answer: HttpAnswer): string | undefined {
  if (answer.status !== 200) {
    return `answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 120)}`;
  }

  return answer.body.length === 0
    ? undefined
    : `answered 200 with ${answer.body.length} bytes where none were expected`;
}

/** A report-phase device: its Idle signed once, and how many of its commands it acknowledged. */
interface Reporter {
  device: ReportDevice;
  signer: RequestSigner;
  responder: CommandResponder;
  view: DeviceView;
  idle: Buffer;
  acknowledged: number;
}

/**
 * Command reports: a lane takes a device, opens its session with Idle, then acknowledges each
 * Settings command it is given, signing every report, until the queue is empty. Only the reports
 * are measured. A lane stops at the end of the window with the command in hand unanswered; the
 * service hands it out again in the next session, so the counts stay right.
 */
async function reportLane(
  job: LoadJob,
  pool: Reporter[],
  connection: KeepAliveConnection,
  window: Window,
): Promise<void> {
  while (window.phase !== 'done') {
    const reporter = pool.shift();

    if (!reporter) {
      // The queued commands ran out before the duration did: the window ends here.
      window.close();

      return;
    }

    const requeue = await reportSession(job, reporter, connection, window);

    if (requeue) {
      pool.push(reporter);
    }
  }
}

/** One session of one device; true when the device still has commands to acknowledge. */
async function reportSession(
  job: LoadJob,
  reporter: Reporter,
  connection: KeepAliveConnection,
  window: Window,
): Promise<boolean> {
  const outstanding = (): number => reporter.device.commands - reporter.acknowledged;
  let answer: HttpAnswer;

  try {
    answer = await connection.send(reporter.idle);
  } catch (error) {
    window.recordFailure(error);
    await sleep(FAILURE_PAUSE_MS);

    return true;
  }
  if (answer.status !== 200) {
    window.recordAside(`the session's Idle answered ${answer.status}`);

    return true;
  }
  window.recordAside(undefined);

  while (window.phase !== 'done') {
    if (answer.status !== 200) {
      // The report itself was counted as wrong; the session ends as a device's would.
      return outstanding() > 0;
    }
    if (answer.body.length === 0) {
      // Still on its way through the bus: counted, and the device tries again later.
      if (outstanding() > 0 && window.measuring) {
        window.earlyEmptyQueues += 1;
      }

      return outstanding() > 0;
    }

    let envelope: CommandEnvelope;

    try {
      envelope = parseCommand(answer.body);
    } catch (error) {
      window.note(`unreadable command: ${(error as Error).message}`);

      return false;
    }

    const result = reporter.responder.answer(envelope, reporter.view);
    const body = encodePlistXml({
      UDID: reporter.device.hardware.udid,
      CommandUUID: envelope.commandUuid,
      Status: result.status,
      ...result.result,
    });
    const request = httpRequest(
      job.target,
      'PUT',
      job.path,
      { 'Content-Type': COMMAND_CONTENT_TYPE, 'Mdm-Signature': reporter.signer.sign(body) },
      body,
    );
    const started = process.hrtime.bigint();

    try {
      answer = await connection.send(request);
    } catch (error) {
      window.recordFailure(error);

      return true;
    }
    if (answer.status === 200) {
      reporter.acknowledged += 1;
    }

    const expectsMore = outstanding() > 0;
    const problem =
      envelope.requestType !== 'Settings'
        ? `got ${envelope.requestType} where only Settings were queued`
        : result.status !== 'Acknowledged'
          ? `the device answered ${result.status}`
          : answer.status !== 200
            ? `answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 120)}`
            : !expectsMore && answer.body.length > 0
              ? 'a command came after the last one queued'
              : undefined;

    window.record(started, problem);
  }

  return outstanding() > 0;
}

function reporters(job: LoadJob): Reporter[] {
  return (job.reports ?? []).map((device) => {
    const signer = new RequestSigner(device.identity);
    const idle = encodePlistXml({ UDID: device.hardware.udid, Status: 'Idle' });

    return {
      device,
      signer,
      responder: new CommandResponder({ notNowShare: 0, seed: device.hardware.udid }),
      view: { hardware: device.hardware, awaitingConfiguration: false, profiles: [], apps: [] },
      idle: httpRequest(
        job.target,
        'PUT',
        job.path,
        { 'Content-Type': COMMAND_CONTENT_TYPE, 'Mdm-Signature': signer.sign(idle) },
        idle,
      ),
      acknowledged: 0,
    };
  });
}

/** Runs the job: warm-up, measured window, then the result (and per-device acknowledgements). */
export async function runJob(
  job: LoadJob,
): Promise<{ result: LoadResult; acknowledged: Record<string, number> }> {
  const window = new Window(job);
  const connections = Array.from(
    { length: job.connections },
    () => new KeepAliveConnection(job.target),
  );
  const warmUp = setTimeout(() => window.open(), job.warmupMs);
  const end = setTimeout(() => window.close(), job.warmupMs + job.durationMs);
  let devices: number;
  const acknowledged: Record<string, number> = {};

  try {
    if (job.kind === 'report') {
      const all = reporters(job);
      // Lanes take devices from one shared line, and put back those with commands left.
      const line = [...all];

      devices = all.length;
      await Promise.all(connections.map((connection) => reportLane(job, line, connection, window)));
      for (const reporter of all) {
        acknowledged[reporter.device.hardware.udid] = reporter.acknowledged;
      }
    } else {
      const requests = (job.fixed ?? []).map((request) => Buffer.from(request.bytes, 'base64'));

      if (requests.length === 0) {
        throw new Error(`no ${job.kind} requests to send`);
      }

      devices = requests.length;
      await Promise.all(
        connections.map((connection, lane) => fixedLane(lane, job, requests, connection, window)),
      );
    }
  } finally {
    clearTimeout(warmUp);
    clearTimeout(end);
    window.close();
    for (const connection of connections) {
      connection.close();
    }
  }

  return { result: window.result(devices), acknowledged };
}

if (process.send) {
  process.once('message', (message: WorkerMessage) => {
    if (message.type !== 'job') {
      return;
    }

    clockTicksPerSecond();
    runJob(message.job).then(
      (outcome) => process.send?.({ type: 'result', ...outcome }, () => process.exit(0)),
      (error: unknown) =>
        process.send?.({ type: 'error', message: (error as Error).message }, () => process.exit(1)),
    );
  });
}
