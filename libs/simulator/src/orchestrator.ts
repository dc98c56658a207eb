import { setMaxListeners } from 'node:events';

import {
  AdminClient,
  TRIGGER_BATCH,
  type CycleView,
  type DeviceSummary,
  type PhaseDurations,
  type TriggerResult,
} from './admin-client.js';
import { SimulatedDevice, type CycleClock, type DeviceTiming } from './device.js';
import { createHardware, type Platform } from './hardware.js';
import { forEachLimited, Limiter, sleep } from './limiter.js';
import { silentLog, type SimulatorLog } from './log.js';
import { DeviceHttp, type FetchLike } from './mdm-client.js';
import { buildSimulatorConfiguration } from './rts-profiles.js';
import { messageOf } from './simulator.errors.js';

export interface SimulationOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  apiKey: string;
  devices: number;
  cycles: number;
  platform: Platform;
  seed: string;
  /** Device requests in flight at once, and enrollments started at once. */
  concurrency: number;
  /** Longest wait for the fleet to get in service, and for each cycle to end. */
  timeoutMs: number;
  /** Share of app installs first answered NotNow. */
  notNowShare: number;
  timing?: Partial<DeviceTiming>;
  /** Name of the RTS configuration the run saves and uses; default `simulator`. */
  configurationName?: string;
  /** How often the admin API is asked how the cycles are doing; default 500 ms. */
  statusPollMs?: number;
  log?: SimulatorLog;
  progress?: ProgressSink;
  fetch?: FetchLike;
}

/** Where the orchestrator shows how far a stage is. */
export interface ProgressSink {
  /** `doneLabel` says what counts as done, e.g. "returned". */
  start(label: string, total: number, doneLabel?: string): void;
  update(done: number, failed: number): void;
  finish(summary: string): void;
}

export type Outcome = 'returned' | 'failed' | 'stalled' | 'timed-out';

export interface DeviceCycleResult {
  udid: string;
  cycle: number;
  cycleId?: string;
  outcome: Outcome;
  reason?: string;
  /** As the service measured them (`phasesMs`). */
  servicePhasesMs: PhaseDurations;
  /** As the device's own clock saw them. */
  devicePhasesMs: PhaseDurations;
  /** HTTP requests the device made from the trigger until the cycle ended. */
  requests: number;
}

export interface CycleResult {
  cycle: number;
  devices: number;
  wallTimeMs: number;
  results: DeviceCycleResult[];
}

export interface EnrollmentResult {
  devices: number;
  inService: number;
  failures: { udid: string; reason: string }[];
  wallTimeMs: number;
}

export interface SimulationResult {
  url: string;
  platform: Platform;
  devices: number;
  /** Cycles asked for; fewer run when no device is left in service. */
  cycles: number;
  seed: string;
  enrollment: EnrollmentResult;
  /** One entry per cycle that ran. */
  cycleResults: CycleResult[];
  wallTimeMs: number;
}

const quietProgress: ProgressSink = {
  start: () => undefined,
  update: () => undefined,
  finish: () => undefined,
};
// Reads of finished cycles run at most this many at once, to spare the admin API.
const ADMIN_READS = 8;
// After the service says a cycle ended, the device's own answer may still be on its way back.
const SETTLE_MS = 10_000;

interface Tracked {
  device: SimulatedDevice;
  cycleId?: string;
  startRequests: number;
  result?: DeviceCycleResult;
}

/**
 * Runs the whole simulation: saves the `simulator` RTS configuration, enrolls the fleet, waits
 * until every device is in service, then runs Return to Service cycles through the admin API
 * and collects what the service and the devices measured. Never throws for a device's trouble;
 * throws only when the service cannot be used at all (unreachable, API key refused).
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const started = Date.now();
  const log = options.log ?? silentLog;
  const progress = options.progress ?? quietProgress;
  const name = options.configurationName ?? 'simulator';
  const admin = new AdminClient(options.url, options.apiKey, options.fetch);

  // First, so that a wrong URL or API key stops the run before any device enrolls.
  await admin.saveConfiguration(name, buildSimulatorConfiguration(options.seed));
  log.info('RTS configuration saved', { configuration: name });

  const controller = new AbortController();

  // Every device waits on this one signal (sleeps, requests), so it has as many listeners as
  // there are devices; the default warning at 10 is meant for leaks, not fleets.
  setMaxListeners(0, controller.signal);
  const http = new DeviceHttp({
    limiter: new Limiter(options.concurrency),
    log,
    fetch: options.fetch,
  });
  const devices = Array.from(
    { length: options.devices },
    (_, index) =>
      new SimulatedDevice({
        hardware: createHardware(options.platform, index, options.seed),
        enrollUrl: `${options.url}/mdm/enroll`,
        http,
        log,
        responder: { notNowShare: options.notNowShare, seed: options.seed },
        ...(options.timing ? { timing: options.timing } : {}),
      }),
  );
  const loops: Promise<void>[] = [];

  try {
    const enrollment = await enrollFleet(devices, loops, controller.signal, options, progress);
    const cycleResults: CycleResult[] = [];
    let fleet = devices.filter((device) => device.state === 'in-service');

    for (let cycle = 1; cycle <= options.cycles && fleet.length > 0; cycle += 1) {
      const result = await runCycle(cycle, fleet, admin, name, options, progress, log);

      cycleResults.push(result);

      const returned = new Set(
        result.results.filter((r) => r.outcome === 'returned').map((r) => r.udid),
      );

      // Only devices that came back take part in the next cycle; the others are reported.
      fleet = fleet.filter((device) => returned.has(device.udid));
      await waitUntil(
        () => fleet.every((device) => device.state === 'in-service' || device.state === 'failed'),
        SETTLE_MS,
        100,
      );
    }

    return {
      url: options.url,
      platform: options.platform,
      devices: options.devices,
      cycles: options.cycles,
      seed: options.seed,
      enrollment,
      cycleResults,
      wallTimeMs: Date.now() - started,
    };
  } finally {
    controller.abort();
    // Every device loop ends at its next await once aborted; the timeout is only a safety net.
    await settledWithin(loops, 5_000);
  }
}

async function enrollFleet(
  devices: SimulatedDevice[],
  loops: Promise<void>[],
  signal: AbortSignal,
  options: SimulationOptions,
  progress: ProgressSink,
): Promise<EnrollmentResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const count = (): [number, number] => [
    devices.filter((device) => device.state === 'in-service').length,
    devices.filter((device) => device.state === 'failed').length,
  ];

  progress.start('enrolling', devices.length, 'in service');

  const ticker = setInterval(() => progress.update(...count()), 200);

  try {
    await forEachLimited(devices, options.concurrency, async (device) => {
      if (Date.now() > deadline) {
        return;
      }
      if (await device.enroll(signal)) {
        loops.push(device.run(signal));
      }
    });
    await waitUntil(
      () => devices.every((device) => device.state === 'in-service' || device.state === 'failed'),
      Math.max(0, deadline - Date.now()),
      100,
    );
  } finally {
    clearInterval(ticker);
  }

  const failures = devices
    .filter((device) => device.state !== 'in-service')
    .map((device) => ({
      udid: device.udid,
      reason:
        device.failure?.reason ??
        `not in service within ${Math.round(options.timeoutMs / 1000)} s (device state ${device.state})`,
    }));
  const [inService] = count();

  progress.finish(`enrolled: ${inService}/${devices.length} in service, ${failures.length} failed`);

  return { devices: devices.length, inService, failures, wallTimeMs: Date.now() - started };
}

async function runCycle(
  cycle: number,
  fleet: SimulatedDevice[],
  admin: AdminClient,
  configuration: string,
  options: SimulationOptions,
  progress: ProgressSink,
  log: SimulatorLog,
): Promise<CycleResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const tracked = new Map<string, Tracked>();
  const ready = fleet.filter((device) => device.state === 'in-service');

  for (const device of fleet) {
    const entry: Tracked = { device, startRequests: device.counter.requests };

    device.beginCycle(started);
    tracked.set(device.udid, entry);
    if (device.state !== 'in-service') {
      const reason = device.failure
        ? `${device.failure.kind}: ${device.failure.reason}`
        : `not in service when the cycle began (device state ${device.state})`;

      entry.result = finished(entry, cycle, 'failed', reason, undefined);
    }
  }

  progress.start(`cycle ${cycle}/${options.cycles}`, fleet.length, 'returned');

  await trigger(ready, tracked, admin, configuration, cycle, deadline, log);

  const pendingEntries = (): Tracked[] => [...tracked.values()].filter((entry) => !entry.result);
  const report = (): void => {
    const results = [...tracked.values()].flatMap((entry) => (entry.result ? [entry.result] : []));

    progress.update(
      results.filter((r) => r.outcome === 'returned').length,
      results.filter((r) => r.outcome !== 'returned').length,
    );
  };

  while (pendingEntries().length > 0 && Date.now() < deadline) {
    await observe(pendingEntries(), admin, cycle, log);
    report();
    if (pendingEntries().length > 0) {
      await sleep(Math.min(options.statusPollMs ?? 500, Math.max(1, deadline - Date.now())));
    }
  }

  const late = pendingEntries();

  await forEachLimited(late, ADMIN_READS, async (entry) => {
    const view = await readCycle(admin, entry.cycleId, log);

    entry.result = finished(
      entry,
      cycle,
      'timed-out',
      `no end within ${Math.round(options.timeoutMs / 1000)} s (service: ${view?.state ?? 'unknown'}, device: ${entry.device.state})`,
      view,
    );
  });
  report();

  const results = fleet.map((device) => tracked.get(device.udid)?.result as DeviceCycleResult);
  const wallTimeMs = Date.now() - started;
  const returned = results.filter((r) => r.outcome === 'returned').length;

  progress.finish(
    `cycle ${cycle}/${options.cycles}: ${returned}/${fleet.length} returned, ${results.length - returned} not, ${(wallTimeMs / 1000).toFixed(1)} s`,
  );

  return { cycle, devices: fleet.length, wallTimeMs, results };
}

/**
 * Starts the cycle for the fleet, a batch at a time. A batch the service refuses or does not
 * answer in time fails its devices with the reason; the other batches go on.
 */
async function trigger(
  fleet: SimulatedDevice[],
  tracked: Map<string, Tracked>,
  admin: AdminClient,
  configuration: string,
  cycle: number,
  deadline: number,
  log: SimulatorLog,
): Promise<void> {
  for (let start = 0; start < fleet.length; start += TRIGGER_BATCH) {
    const batch = fleet.slice(start, start + TRIGGER_BATCH).map((device) => device.udid);
    let results: TriggerResult[];

    try {
      results = await admin.returnToService(
        batch,
        configuration,
        Math.max(30_000, deadline - Date.now()),
      );
    } catch (error) {
      log.error('return to service not triggered', {
        devices: batch.length,
        reason: messageOf(error),
      });
      results = batch.map((udid) => ({
        udid,
        error: { code: 'SIMULATOR.TRIGGER', message: messageOf(error) },
      }));
    }

    for (const result of results) {
      const entry = tracked.get(result.udid);

      if (!entry) {
        continue;
      }
      if (result.cycleId) {
        entry.cycleId = result.cycleId;
      } else {
        const reason = result.error
          ? `not started: ${result.error.code} ${result.error.message}`
          : 'not started: no cycle id';

        entry.result = finished(entry, cycle, 'failed', reason, undefined);
      }
    }
  }
  for (const entry of tracked.values()) {
    if (!entry.cycleId && !entry.result) {
      entry.result = finished(
        entry,
        cycle,
        'failed',
        'not started: the service gave no result',
        undefined,
      );
    }
  }
}

/** One look at the pending devices: the device's own failure first, then the service's view. */
async function observe(
  pending: Tracked[],
  admin: AdminClient,
  cycle: number,
  log: SimulatorLog,
): Promise<void> {
  let views: Map<string, DeviceSummary>;

  try {
    views = new Map((await admin.devices()).map((view) => [view.udid, view]));
  } catch (error) {
    log.warn('device list unavailable', { reason: messageOf(error) });
    views = new Map();
  }

  const ended: Tracked[] = [];

  for (const entry of pending) {
    const view = views.get(entry.device.udid);
    const current = view?.currentCycle;

    if (entry.device.state === 'failed') {
      ended.push(entry);
    } else if (view && (!current || current.id !== entry.cycleId)) {
      // A finished cycle frees the device, so the device list no longer shows it.
      ended.push(entry);
    } else if (current?.state === 'stalled' || current?.state === 'failed') {
      ended.push(entry);
    }
  }

  await forEachLimited(ended, ADMIN_READS, async (entry) => {
    const view = await readCycle(admin, entry.cycleId, log);
    const failure = entry.device.failure;

    if (failure) {
      entry.result = finished(entry, cycle, 'failed', `${failure.kind}: ${failure.reason}`, view);
    } else if (view?.state === 'returned-to-service') {
      entry.result = finished(entry, cycle, 'returned', undefined, view);
    } else if (view?.state === 'failed') {
      entry.result = finished(
        entry,
        cycle,
        'failed',
        view.reason ?? 'failed without a reason',
        view,
      );
    } else if (view?.state === 'stalled') {
      entry.result = finished(
        entry,
        cycle,
        'stalled',
        view.reason ?? 'stalled without a reason',
        view,
      );
    }
  });
}

async function readCycle(
  admin: AdminClient,
  id: string | undefined,
  log: SimulatorLog,
): Promise<CycleView | undefined> {
  if (!id) {
    return undefined;
  }

  try {
    return await admin.cycle(id);
  } catch (error) {
    log.warn('cycle unavailable', { cycleId: id, reason: messageOf(error) });

    return undefined;
  }
}

function finished(
  entry: Tracked,
  cycle: number,
  outcome: Outcome,
  reason: string | undefined,
  view: CycleView | undefined,
): DeviceCycleResult {
  const result: DeviceCycleResult = {
    udid: entry.device.udid,
    cycle,
    outcome,
    servicePhasesMs: view?.phasesMs ?? {},
    devicePhasesMs: entry.device.clock ? devicePhases(entry.device.clock) : {},
    requests: entry.device.counter.requests - entry.startRequests,
  };

  if (entry.cycleId) {
    result.cycleId = entry.cycleId;
  }
  if (reason !== undefined) {
    result.reason = reason;
  }

  return result;
}

/** The same phases as the service's, measured on the device's clock. */
export function devicePhases(clock: CycleClock): PhaseDurations {
  const spans: [keyof PhaseDurations, number | undefined, number | undefined][] = [
    ['erase', clock.startedAt, clock.eraseAcknowledgedAt],
    ['reenroll', clock.eraseAcknowledgedAt, clock.reenrolledAt],
    ['provision', clock.reenrolledAt, clock.configuredAt],
    ['total', clock.startedAt, clock.configuredAt],
  ];
  const phases: PhaseDurations = {};

  for (const [name, from, to] of spans) {
    if (from !== undefined && to !== undefined) {
      phases[name] = Math.max(0, to - from);
    }
  }

  return phases;
}

/** Polls `check` every `intervalMs` until it holds or `timeoutMs` passes; true if it held. */
export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  intervalMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;

  while (!check()) {
    if (Date.now() >= deadline) {
      return false;
    }

    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }

  return true;
}

/** Waits for the promises to settle, or for `ms` at most, leaving no timer behind. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;

  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
