import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { CycleState, CycleTrigger } from '@turnaround/contracts';
import { CONTRACTS } from '@turnaround/contracts';

import { createLogger } from './logger.js';

/**
 * The process's Prometheus metrics. One registry per process, created on first use with every
 * metric in it: the embedded default runs four services in one process and tests start many apps in
 * one, and prom-client refuses a second metric of the same name. What an app contributes at
 * scrape time (database counts) it registers as a source, and removes again when it stops.
 */

const PREFIX = 'turnaround_';

export type DeviceEndpoint = 'checkin' | 'command' | 'enroll';

// What a device can say on each URL (the protocol library's lists; this library may not import
// it). Anything else is counted as `other`, so a device cannot invent label values.
const DEVICE_MESSAGE_TYPES: Record<DeviceEndpoint, ReadonlySet<string>> = {
  checkin: new Set([
    'Authenticate',
    'TokenUpdate',
    'CheckOut',
    'SetBootstrapToken',
    'GetBootstrapToken',
    'ReturnToService',
    'DeclarativeManagement',
    'UserAuthenticate',
    'GetToken',
  ]),
  command: new Set(['Idle', 'Acknowledged', 'Error', 'CommandFormatError', 'NotNow']),
  // The SCEP operations share the enrollment endpoint: certifying the device's key is enrollment.
  enroll: new Set(['Profile', 'MachineInfo', 'GetCACaps', 'GetCACert', 'PKIOperation']),
};

const ROUTING_KEYS: ReadonlySet<string> = new Set(CONTRACTS.map((contract) => contract.routingKey));

export type MessageOutcome = 'ack' | 'retry' | 'dead-letter';

/** One service's outbox as its relay sees it at scrape time. */
export interface OutboxStatus {
  service: string;
  pending: number;
  /** Age of the oldest message not yet published; 0 when none waits. */
  oldestAgeSeconds: number;
}

/** Counts keyed by a label value (a command state, a cycle state). */
export type CountsByLabel = Partial<Record<string, number>>;

interface Metrics {
  registry: Registry;
  deviceRequests: Counter<'endpoint' | 'message_type' | 'status'>;
  deviceRequestDuration: Histogram<'endpoint' | 'message_type'>;
  commandQueueDepth: ScrapeSources<CountsByLabel>;
  cycleTransitions: Counter<'to_state' | 'trigger' | 'preserve_apps'>;
  cyclePhaseDuration: Histogram<'phase'>;
  activeCycles: ScrapeSources<CountsByLabel>;
  outbox: ScrapeSources<OutboxStatus[]>;
  messagesHandled: Counter<'group' | 'type' | 'outcome'>;
}

const logger = createLogger('Metrics');
let metrics: Metrics | undefined;

/**
 * Readers that a gauge asks at scrape time. Gauges that share readers (the outbox's two) share
 * each read too: prom-client collects every metric of a scrape at once, so a read still in flight
 * is joined rather than repeated.
 */
class ScrapeSources<T> {
  private readonly readers = new Set<() => Promise<T>>();
  private inFlight?: Promise<T[]>;

  add(reader: () => Promise<T>): () => void {
    this.readers.add(reader);

    return () => void this.readers.delete(reader);
  }

  read(metric: string): Promise<T[]> {
    this.inFlight ??= this.readAll(metric).finally(() => {
      this.inFlight = undefined;
    });

    return this.inFlight;
  }

  private async readAll(metric: string): Promise<T[]> {
    const results = await Promise.all(
      [...this.readers].map(async (reader) => {
        try {
          return [await reader()];
        } catch (error) {
          // A failed count leaves its series out of this scrape rather than failing the scrape.
          logger.warn({ metric, err: error }, 'metric source failed');

          return [];
        }
      }),
    );

    return results.flat();
  }
}

function sumByLabel(counts: CountsByLabel[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const entry of counts) {
    for (const [label, value] of Object.entries(entry)) {
      sums.set(label, (sums.get(label) ?? 0) + (value ?? 0));
    }
  }

  return sums;
}

function create(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const commandQueueDepth = new ScrapeSources<CountsByLabel>();
  const activeCycles = new ScrapeSources<CountsByLabel>();
  const outbox = new ScrapeSources<OutboxStatus[]>();

  new Gauge({
    name: `${PREFIX}command_queue_depth`,
    help: 'Commands waiting to be answered, by state (queued, delivered, not-now), read from the commands database.',
    labelNames: ['state'],
    registers,
    async collect() {
      const sums = sumByLabel(await commandQueueDepth.read('command_queue_depth'));
      this.reset();
      for (const [state, value] of sums) {
        this.set({ state }, value);
      }
    },
  });
  new Gauge({
    name: `${PREFIX}rts_cycles_active`,
    help: 'Return to Service cycles not yet ended, by state, read from the provisioning database.',
    labelNames: ['state'],
    registers,
    async collect() {
      const sums = sumByLabel(await activeCycles.read('rts_cycles_active'));
      this.reset();
      for (const [state, value] of sums) {
        this.set({ state }, value);
      }
    },
  });
  new Gauge({
    name: `${PREFIX}outbox_pending`,
    help: 'Messages written to a service outbox and not yet published.',
    labelNames: ['service'],
    registers,
    async collect() {
      const statuses = (await outbox.read('outbox_pending')).flat();
      this.reset();
      const sums = sumByLabel(statuses.map((status) => ({ [status.service]: status.pending })));
      for (const [service, value] of sums) {
        this.set({ service }, value);
      }
    },
  });
  new Gauge({
    name: `${PREFIX}outbox_lag_seconds`,
    help: 'Age of the oldest message in a service outbox not yet published; 0 when none waits.',
    labelNames: ['service'],
    registers,
    async collect() {
      const statuses = (await outbox.read('outbox_lag_seconds')).flat();
      this.reset();
      const oldest = new Map<string, number>();
      for (const status of statuses) {
        oldest.set(
          status.service,
          Math.max(oldest.get(status.service) ?? 0, status.oldestAgeSeconds),
        );
      }
      for (const [service, value] of oldest) {
        this.set({ service }, value);
      }
    },
  });

  return {
    registry,
    deviceRequests: new Counter({
      name: `${PREFIX}device_requests_total`,
      help: 'Device requests answered, by URL, check-in MessageType or report Status, and HTTP status.',
      labelNames: ['endpoint', 'message_type', 'status'],
      registers,
    }),
    deviceRequestDuration: new Histogram({
      name: `${PREFIX}device_request_duration_seconds`,
      help: 'Time from a device request arriving to its answer, body read included.',
      labelNames: ['endpoint', 'message_type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    commandQueueDepth,
    cycleTransitions: new Counter({
      name: `${PREFIX}rts_cycles_total`,
      help: 'Return to Service cycle transitions, by the state entered; returned-to-service and failed are outcomes.',
      labelNames: ['to_state', 'trigger', 'preserve_apps'],
      registers,
    }),
    cyclePhaseDuration: new Histogram({
      name: `${PREFIX}rts_cycle_phase_duration_seconds`,
      help: 'Time a Return to Service cycle spent in a state, observed when it leaves the state.',
      labelNames: ['phase'],
      // An erase, the reboot and re-enrollment take minutes; queueing takes milliseconds; a
      // phase deadline is counted in tens of minutes.
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    }),
    activeCycles,
    outbox,
    messagesHandled: new Counter({
      name: `${PREFIX}messages_handled_total`,
      help: 'Bus deliveries to a consumer group, by routing key and what became of them.',
      labelNames: ['group', 'type', 'outcome'],
      registers,
    }),
  };
}

function instruments(): Metrics {
  metrics ??= create();

  return metrics;
}

/** The process's registry: what `GET /metrics` exposes. */
export function metricsRegistry(): Registry {
  return instruments().registry;
}

function messageTypeLabel(endpoint: DeviceEndpoint, messageType: string | undefined): string {
  if (messageType === undefined) {
    // The request failed before its type was read (size, signature, plist).
    return 'none';
  }

  return DEVICE_MESSAGE_TYPES[endpoint].has(messageType) ? messageType : 'other';
}

function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
}

/**
 * Starts timing one device request; the returned function counts it once it was answered.
 * `messageType` is the check-in MessageType or report Status, undefined when it was never read.
 */
export function deviceRequestTimer(
  endpoint: DeviceEndpoint,
): (messageType: string | undefined, status: number) => void {
  const started = process.hrtime.bigint();

  return (messageType, status) => {
    const { deviceRequests, deviceRequestDuration } = instruments();
    const type = messageTypeLabel(endpoint, messageType);
    deviceRequests.inc({ endpoint, message_type: type, status: statusLabel(status) });
    deviceRequestDuration.observe(
      { endpoint, message_type: type },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  };
}

/** Reads the pending commands by state when scraped, until the returned function is called. */
export function registerCommandQueueDepth(read: () => Promise<CountsByLabel>): () => void {
  return instruments().commandQueueDepth.add(read);
}

/** Reads the unfinished RTS cycles by state when scraped, until the returned function is called. */
export function registerActiveCycles(read: () => Promise<CountsByLabel>): () => void {
  return instruments().activeCycles.add(read);
}

/**
 * Reads the outboxes' backlog when scraped (`turnaround_outbox_pending`,
 * `turnaround_outbox_lag_seconds`), until the returned function is called.
 */
export function registerOutboxMetrics(collect: () => Promise<OutboxStatus[]>): () => void {
  return instruments().outbox.add(collect);
}

export interface CycleTransitionSample {
  to: CycleState;
  trigger: CycleTrigger;
  preserveApps: boolean;
  /** The state left and how long the cycle was in it, when the cycle recorded when it entered. */
  left?: { phase: CycleState; seconds: number };
}

/** Counts one recorded RTS cycle transition and times the phase it ended. */
export function recordCycleTransition(sample: CycleTransitionSample): void {
  const { cycleTransitions, cyclePhaseDuration } = instruments();
  cycleTransitions.inc({
    to_state: sample.to,
    trigger: sample.trigger,
    preserve_apps: String(sample.preserveApps),
  });
  if (sample.left) {
    cyclePhaseDuration.observe({ phase: sample.left.phase }, Math.max(0, sample.left.seconds));
  }
}

/**
 * Counts what became of one delivery of a bus message to a consumer group. Routing keys outside
 * the contracts are counted as `other`: whoever can publish to the exchange could invent them.
 */
export function recordDelivery(group: string, type: string, outcome: MessageOutcome): void {
  instruments().messagesHandled.inc({
    group,
    type: ROUTING_KEYS.has(type) ? type : 'other',
    outcome,
  });
}
