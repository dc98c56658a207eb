import type { IdentityPem } from '@turnaround/identity';
import type { Hardware } from '@turnaround/simulator';

import type { Target } from './service-under-test.js';

/** The device requests the bench measures. */
export type RequestKind = 'idle' | 'authenticate' | 'token-update' | 'report';

export const REQUEST_KINDS: readonly RequestKind[] = [
  'idle',
  'authenticate',
  'token-update',
  'report',
];

/** How each kind is named in tables. */
export const REQUEST_LABELS: Record<RequestKind, string> = {
  idle: 'Idle',
  authenticate: 'Authenticate',
  'token-update': 'TokenUpdate',
  report: 'Command report',
};

/** A request signed once and sent again and again; its right answer is a zero-byte 200. */
export interface FixedRequest {
  udid: string;
  /** The whole HTTP request, base64. */
  bytes: string;
}

/** A device with `commands` Settings commands queued for it, to be acknowledged one by one. */
export interface ReportDevice {
  hardware: Hardware;
  identity: IdentityPem;
  commands: number;
}

export interface LoadJob {
  kind: RequestKind;
  target: Target;
  /** The command URL's path, for reports. */
  path: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Server processes whose CPU time is read at the edges of the measured window. */
  pids: number[];
  /** Distributed mode: the run's database, whose PostgreSQL backends are measured apart. */
  database: string | null;
  clockTicks: number;
  fixed?: FixedRequest[];
  reports?: ReportDevice[];
}

export interface LatencySummary {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export interface LoadResult {
  kind: RequestKind;
  connections: number;
  /** Length of the measured window (after warm-up; shorter when the queued work ran out). */
  windowMs: number;
  /** Right answers completed in the window. */
  answered: number;
  /** Answers in the window that were not the expected ones, and requests that failed outright. */
  wrong: number;
  failed: number;
  /** A few of the reasons, for the reader. */
  problems: string[];
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** utime + stime of the server processes over the window, summed. */
  serverCpuMs: number;
  /** The same by process: pid in the worker, the service's name once the bench has it. */
  cpuMsByProcess: Record<string, number>;
  /** The PostgreSQL backends of the run's database over the window (distributed mode). */
  databaseCpuMs: number | null;
  /** The load generator's own CPU over the window: it shares the machine with the services. */
  generatorCpuMs: number;
  /** Every request the server answered in the window (reports also need an Idle per device). */
  serverRequests: number;
  cpuMsPerRequest: number | null;
  /** Window edges on the monotonic clock in microseconds, the clock of V8 CPU profiles. */
  windowStartUs: number;
  windowEndUs: number;
  /** Reports only: Idles that opened a device's session, and queues found empty too early. */
  sessionIdles?: number;
  earlyEmptyQueues?: number;
  /** Devices that spoke; fewer than connections means some connections shared a device. */
  devices: number;
}

/** Parent to worker, then worker to parent. */
export type WorkerMessage =
  | { type: 'job'; job: LoadJob }
  | { type: 'result'; result: LoadResult; acknowledged: Record<string, number> }
  | { type: 'error'; message: string };
