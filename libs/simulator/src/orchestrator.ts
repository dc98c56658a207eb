import { setMaxListeners } from 'node:events';

import { UNLOCK_URL_VARIABLE, UnlockEndpoint } from './activation-lock.js';
import {
  AdminClient,
  TRIGGER_BATCH,
  type CycleView,
  type DeviceSummary,
  type PhaseDurations,
  type RtsConfigurationInput,
  type TriggerResult,
} from './admin-client.js';
import { type DeviceKeySource } from './device-keys.js';
import { SimulatedDevice, type CycleClock, type DeviceStats, type DeviceTiming } from './device.js';
import { createHardware, newestRelease, type Platform } from './hardware.js';
import { forEachLimited, Limiter, sleep } from './limiter.js';
import { silentLog, type SimulatorLog } from './log.js';
import { DeviceHttp, type FetchLike } from './mdm-client.js';
import { seededFraction } from './random.js';
import { buildSimulatorConfiguration } from './rts-profiles.js';
import { messageOf } from './simulator.errors.js';

/** Who starts Return to Service: the admin API, a person on the device, or its idle timeout. */
export type CycleTrigger = 'service' | 'user' | 'idle';

export const CYCLE_TRIGGERS: readonly CycleTrigger[] = ['service', 'user', 'idle'];

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
  /** Default `service`: POST /return-to-service. `user`/`idle`: the devices ask themselves. */
  trigger?: CycleTrigger;
  /** RTS with app preservation. */
  preserveApps?: boolean;
  /** With app preservation, Keynote comes and goes: odd cycles install it, even ones remove it. */
  rotateApps?: boolean;
  /** The configuration's TemporarySessionTimeout for `idle` runs, in seconds; default 30. */
  idleTimeoutSeconds?: number;
  /** Share of devices, 0 to 1, that have Activation Lock on whenever they are in service. */
  activationLockShare?: number;
  /** Port of the fake Apple unlock endpoint on 127.0.0.1; none started without it. */
  unlockPort?: number;
  /** Share of devices, 0 to 1, that start on an older OS; the configuration then asks for the newest. */
  outdatedShare?: number;
  /** Lines for the person running the simulation (where the unlock endpoint listens). */
  notice?: (line: string) => void;
  /** How often the admin API is asked how the cycles are doing; default 500 ms. */
  statusPollMs?: number;
  log?: SimulatorLog;
  progress?: ProgressSink;
  fetch?: FetchLike;
  /** Where the devices' SCEP keys come from; default a new key per enrollment. */
  keys?: DeviceKeySource;
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
  /** The service's word for who started the cycle, else the trigger the run asked for. */
  trigger: string;
  /** Whether the service kept the apps in this cycle. */
  preserveApps?: boolean;
  preservationDeclined?: string;
  /** As the device counted them in this cycle. */
  apps: { preserved: number; downloaded: number; removed: number };
  /** The device's NotNow answers in the snapshot window. */
  snapshotNotNow: number;
  /** The snapshot phase as the service saw it (`snapshot` of the cycle view). */
  serviceSnapshot?: { ms?: number; notNowAnswers?: number };
  softwareUpdates: number;
  /** Activation Lock cleared through the fake unlock endpoint for this device in this cycle. */
  unlocks: number;
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
  trigger: CycleTrigger;
  preserveApps: boolean;
  /** Devices that escrowed a bootstrap token after their first enrollment. */
  bootstrapTokensEscrowed: number;
  /** Devices that have Activation Lock on whenever they are in service. */
  activationLocked: number;
  /** The fake unlock endpoint, when one ran. */
  unlockEndpoint?: { url: string; requests: number; cleared: number; refused: number };
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

// A TemporarySessionTimeout longer than any run waits: set on visionOS, but never reached.
const UNREACHED_IDLE_TIMEOUT_SECONDS = 3_600;

interface Tracked {
  device: SimulatedDevice;
  cycleId?: string;
  startRequests: number;
  startStats: DeviceStats;
  startUnlocks: number;
  result?: DeviceCycleResult;
}

interface CycleContext {
  cycle: number;
  admin: AdminClient;
  configuration: string;
  options: SimulationOptions;
  trigger: CycleTrigger;
  log: SimulatorLog;
  /** Cycle ids already accounted for, per device: a device-triggered cycle is the next one. */
  known: Map<string, Set<string>>;
}

/** The RTS configuration the run saves before the given cycle (0: before enrollment). */
export function simulationConfiguration(
  options: Pick<
    SimulationOptions,
    | 'seed'
    | 'platform'
    | 'preserveApps'
    | 'rotateApps'
    | 'trigger'
    | 'idleTimeoutSeconds'
    | 'outdatedShare'
  >,
  cycle: number,
): RtsConfigurationInput {
  const visionWithPreservation = options.platform === 'visionos' && options.preserveApps === true;
  const idleTimeout =
    options.trigger === 'idle'
      ? (options.idleTimeoutSeconds ?? 30)
      : visionWithPreservation
        ? UNREACHED_IDLE_TIMEOUT_SECONDS
        : undefined;
  const [minimumVersion, buildVersion] = newestRelease(options.platform);

  return buildSimulatorConfiguration(options.seed, {
    platform: options.platform,
    ...(options.preserveApps
      ? {
          preserveApps: true,
          ...(options.rotateApps ? { rotateAppsFromCycle: Math.max(1, cycle) } : {}),
        }
      : {}),
    ...(idleTimeout !== undefined ? { temporarySessionTimeout: idleTimeout } : {}),
    ...((options.outdatedShare ?? 0) > 0
      ? { osPolicy: { minimumVersion, buildVersion, whenUnsupported: 'allow' as const } }
      : {}),
  });
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
  const trigger = options.trigger ?? 'service';
  const admin = new AdminClient(options.url, options.apiKey, options.fetch);

  // First, so that a wrong URL or API key stops the run before any device enrolls.
  await admin.saveConfiguration(name, simulationConfiguration(options, 0));
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
        hardware: createHardware(options.platform, index, options.seed, {
          outdatedShare: options.outdatedShare ?? 0,
        }),
        enrollUrl: `${options.url}/mdm/enroll`,
        http,
        log,
        responder: { notNowShare: options.notNowShare, seed: options.seed },
        // Apple TV has no bypass code to clear a lock with, so it never gets one here.
        activationLock:
          options.platform !== 'tvos' &&
          seededFraction(options.seed, 'activation-lock', index) <
            (options.activationLockShare ?? 0),
        ...(options.timing ? { timing: options.timing } : {}),
        ...(options.keys ? { keys: options.keys } : {}),
      }),
  );
  const loops: Promise<void>[] = [];
  const bySerial = new Map(devices.map((device) => [device.hardware.serialNumber, device]));
  const unlock =
    options.unlockPort === undefined
      ? undefined
      : new UnlockEndpoint((serial) => bySerial.get(serial)?.activationLock, log);
  let unlockUrl: string | undefined;

  try {
    if (unlock) {
      unlockUrl = await unlock.start(options.unlockPort ?? 0);
      options.notice?.(
        `Activation Lock: the fake Apple unlock endpoint listens at ${unlockUrl}; start the service with ${UNLOCK_URL_VARIABLE}=${unlockUrl}`,
      );
    }

    const enrollment = await enrollFleet(devices, loops, controller.signal, options, progress);
    const cycleResults: CycleResult[] = [];
    const known = new Map<string, Set<string>>();
    let fleet = devices.filter((device) => device.state === 'in-service');

    for (let cycle = 1; cycle <= options.cycles && fleet.length > 0; cycle += 1) {
      // The plan changes from cycle to cycle with app preservation (see the configuration).
      if (options.preserveApps && cycle > 1) {
        await admin.saveConfiguration(name, simulationConfiguration(options, cycle));
      }

      const result = await runCycle(fleet, progress, {
        cycle,
        admin,
        configuration: name,
        options,
        trigger,
        log,
        known,
      });

      cycleResults.push(result);
      for (const entry of result.results) {
        if (entry.cycleId) {
          const ids = known.get(entry.udid) ?? new Set<string>();

          ids.add(entry.cycleId);
          known.set(entry.udid, ids);
        }
      }

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

    const result: SimulationResult = {
      url: options.url,
      platform: options.platform,
      trigger,
      preserveApps: options.preserveApps === true,
      bootstrapTokensEscrowed: devices.filter((device) => device.bootstrapTokenEscrowed).length,
      activationLocked: devices.filter((device) => device.activationLock.enabled).length,
      devices: options.devices,
      cycles: options.cycles,
      seed: options.seed,
      enrollment,
      cycleResults,
      wallTimeMs: Date.now() - started,
    };

    if (unlock && unlockUrl) {
      result.unlockEndpoint = { url: unlockUrl, ...unlock.counts };
    }

    return result;
  } finally {
    controller.abort();
    // Every device loop ends at its next await once aborted; the timeout is only a safety net.
    await settledWithin(loops, 5_000);
    await unlock?.stop();
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
  fleet: SimulatedDevice[],
  progress: ProgressSink,
  context: CycleContext,
): Promise<CycleResult> {
  const { cycle, options, trigger } = context;
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const tracked = new Map<string, Tracked>();
  const ready = fleet.filter((device) => device.state === 'in-service');

  for (const device of fleet) {
    const entry: Tracked = {
      device,
      startRequests: device.counter.requests,
      startStats: { ...device.stats },
      startUnlocks: device.activationLock.unlocks,
    };

    device.beginCycle(started);
    tracked.set(device.udid, entry);
    if (device.state !== 'in-service') {
      const reason = device.failure
        ? `${device.failure.kind}: ${device.failure.reason}`
        : `not in service when the cycle began (device state ${device.state})`;

      entry.result = finished(entry, context, 'failed', reason, undefined);
    }
  }

  progress.start(`cycle ${cycle}/${options.cycles}`, fleet.length, 'returned');

  if (trigger === 'service') {
    await triggerByService(ready, tracked, context, deadline);
  } else {
    await assign(ready, tracked, context, deadline);
    for (const device of ready) {
      if (!tracked.get(device.udid)?.result) {
        device.arm(trigger);
      }
    }
  }

  const pendingEntries = (): Tracked[] => [...tracked.values()].filter((entry) => !entry.result);
  const report = (): void => {
    const results = [...tracked.values()].flatMap((entry) => (entry.result ? [entry.result] : []));

    progress.update(
      results.filter((r) => r.outcome === 'returned').length,
      results.filter((r) => r.outcome !== 'returned').length,
    );
  };

  while (pendingEntries().length > 0 && Date.now() < deadline) {
    await observe(pendingEntries(), context);
    report();
    if (pendingEntries().length > 0) {
      await sleep(Math.min(options.statusPollMs ?? 500, Math.max(1, deadline - Date.now())));
    }
  }

  const late = pendingEntries();

  await forEachLimited(late, ADMIN_READS, async (entry) => {
    const view = await readCycle(context, entry.cycleId);
    const waiting =
      entry.cycleId === undefined && trigger !== 'service'
        ? `the device did not ask for Return to Service (${trigger} trigger)`
        : `service: ${view?.state ?? 'unknown'}`;

    entry.result = finished(
      entry,
      context,
      'timed-out',
      `no end within ${Math.round(options.timeoutMs / 1000)} s (${waiting}, device: ${entry.device.state})`,
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

function batchesOf(devices: SimulatedDevice[]): string[][] {
  const batches: string[][] = [];

  for (let start = 0; start < devices.length; start += TRIGGER_BATCH) {
    batches.push(devices.slice(start, start + TRIGGER_BATCH).map((device) => device.udid));
  }

  return batches;
}

interface PerDeviceResult {
  udid: string;
  error?: { code: string; message: string };
}

/**
 * Calls the admin API for the fleet a batch at a time. A batch the service refuses or does not
 * answer in time gets one error per device, with the reason; the other batches go on.
 */
async function inBatches<R extends PerDeviceResult>(
  fleet: SimulatedDevice[],
  context: CycleContext,
  failure: { code: string; log: string },
  call: (batch: string[]) => Promise<R[]>,
): Promise<PerDeviceResult[]> {
  const results: PerDeviceResult[] = [];

  for (const batch of batchesOf(fleet)) {
    try {
      results.push(...(await call(batch)));
    } catch (error) {
      context.log.error(failure.log, { devices: batch.length, reason: messageOf(error) });
      results.push(
        ...batch.map((udid) => ({
          udid,
          error: { code: failure.code, message: messageOf(error) },
        })),
      );
    }
  }

  return results;
}

/** Fails every device the service said nothing about, so none waits for a cycle that never comes. */
function failUnanswered(
  tracked: Map<string, Tracked>,
  context: CycleContext,
  reason: string,
): void {
  for (const entry of tracked.values()) {
    if (!entry.cycleId && !entry.result) {
      entry.result = finished(entry, context, 'failed', reason, undefined);
    }
  }
}

/** Starts the cycle for the fleet through the admin API. */
async function triggerByService(
  fleet: SimulatedDevice[],
  tracked: Map<string, Tracked>,
  context: CycleContext,
  deadline: number,
): Promise<void> {
  const results = await inBatches(
    fleet,
    context,
    { code: 'SIMULATOR.TRIGGER', log: 'return to service not triggered' },
    (batch) =>
      context.admin.returnToService(
        batch,
        context.configuration,
        Math.max(30_000, deadline - Date.now()),
      ),
  );

  for (const result of results as TriggerResult[]) {
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

      entry.result = finished(entry, context, 'failed', reason, undefined);
    }
  }
  failUnanswered(tracked, context, 'not started: the service gave no result');
}

/**
 * User and idle triggers: the service answers a device's own ReturnToService check-in with the
 * configuration assigned to it, so every device gets it before the cycle. Assigning again each
 * cycle is harmless and survives a service restart in between.
 */
async function assign(
  fleet: SimulatedDevice[],
  tracked: Map<string, Tracked>,
  context: CycleContext,
  deadline: number,
): Promise<void> {
  const results = await inBatches(
    fleet,
    context,
    { code: 'SIMULATOR.ASSIGN', log: 'configuration not assigned' },
    (batch) =>
      context.admin.assign(batch, context.configuration, Math.max(30_000, deadline - Date.now())),
  );
  const answered = new Set(results.map((result) => result.udid));

  for (const result of results) {
    const entry = tracked.get(result.udid);

    if (entry && result.error) {
      entry.result = finished(
        entry,
        context,
        'failed',
        `not assigned: ${result.error.code} ${result.error.message}`,
        undefined,
      );
    }
  }
  for (const [udid, entry] of tracked) {
    if (!entry.result && !answered.has(udid)) {
      entry.result = finished(
        entry,
        context,
        'failed',
        'not assigned: the service gave no result',
        undefined,
      );
    }
  }
}

/** One look at the pending devices: the device's own failure first, then the service's view. */
async function observe(pending: Tracked[], context: CycleContext): Promise<void> {
  let views: Map<string, DeviceSummary>;

  try {
    views = new Map((await context.admin.devices()).map((view) => [view.udid, view]));
  } catch (error) {
    context.log.warn('device list unavailable', { reason: messageOf(error) });
    views = new Map();
  }

  await locateDeviceCycles(
    pending.filter((entry) => entry.cycleId === undefined),
    views,
    context,
  );

  const ended: Tracked[] = [];

  for (const entry of pending) {
    if (entry.result || entry.cycleId === undefined) {
      continue;
    }

    const view = views.get(entry.device.udid);
    const current = view?.currentCycle;

    if (entry.device.state === 'failed') {
      ended.push(entry);
    } else if (view && (!current || current.id !== entry.cycleId)) {
      // A finished cycle frees the device, so the device list no longer shows it.
      ended.push(entry);
    } else if (['stalled', 'failed', 'blocked'].includes(current?.state ?? '')) {
      ended.push(entry);
    }
  }

  await forEachLimited(ended, ADMIN_READS, async (entry) => {
    const view = await readCycle(context, entry.cycleId);
    const failure = entry.device.failure;

    if (failure) {
      entry.result = finished(entry, context, 'failed', `${failure.kind}: ${failure.reason}`, view);
    } else if (view?.state === 'returned-to-service') {
      entry.result = finished(entry, context, 'returned', undefined, view);
    } else if (view?.state === 'failed') {
      entry.result = finished(
        entry,
        context,
        'failed',
        view.reason ?? 'failed without a reason',
        view,
      );
    } else if (view?.state === 'blocked') {
      entry.result = finished(
        entry,
        context,
        'failed',
        `blocked: ${view.reason ?? 'no reason given'}`,
        view,
      );
    } else if (view?.state === 'stalled') {
      entry.result = finished(
        entry,
        context,
        'stalled',
        view.reason ?? 'stalled without a reason',
        view,
      );
    }
  });
}

/**
 * User and idle triggers: the cycle exists once the service answered the device's check-in.
 * It is the device's current cycle in the list, or, when it already ended, the newest one in the
 * device's history that no earlier cycle of the run accounted for.
 */
async function locateDeviceCycles(
  waiting: Tracked[],
  views: Map<string, DeviceSummary>,
  context: CycleContext,
): Promise<void> {
  const lookups: Tracked[] = [];

  for (const entry of waiting) {
    const device = entry.device;
    const request = device.returnToServiceRequest;
    const known = context.known.get(device.udid);
    const current = views.get(device.udid)?.currentCycle;

    if (device.failure) {
      entry.result = finished(
        entry,
        context,
        'failed',
        `${device.failure.kind}: ${device.failure.reason}`,
        undefined,
      );
    } else if (device.cycleProblem && request?.enabled !== false) {
      entry.result = finished(entry, context, 'failed', device.cycleProblem, undefined);
    } else if (request?.enabled === undefined) {
      continue;
    } else if (current && !known?.has(current.id) && request.enabled) {
      entry.cycleId = current.id;
    } else {
      lookups.push(entry);
    }
  }

  await forEachLimited(lookups, ADMIN_READS, async (entry) => {
    const device = entry.device;
    let fresh: CycleView | undefined;

    try {
      const known = context.known.get(device.udid);

      fresh = (await context.admin.deviceCycles(device.udid)).find(
        (cycle) => !known?.has(cycle.id),
      );
    } catch (error) {
      context.log.warn('device cycles unavailable', {
        udid: device.udid,
        reason: messageOf(error),
      });
    }
    if (device.returnToServiceRequest?.enabled === false) {
      // Refused: say what the service recorded, when it recorded anything (e.g. blocked).
      const detail = fresh
        ? ` (service: ${fresh.state}${fresh.reason ? `: ${fresh.reason}` : ''})`
        : '';

      if (fresh) {
        entry.cycleId = fresh.id;
      }
      entry.result = finished(
        entry,
        context,
        'failed',
        `${device.cycleProblem ?? 'Return to Service refused'}${detail}`,
        fresh,
      );
    } else if (fresh) {
      entry.cycleId = fresh.id;
    }
  });
}

async function readCycle(
  context: CycleContext,
  id: string | undefined,
): Promise<CycleView | undefined> {
  if (!id) {
    return undefined;
  }

  try {
    return await context.admin.cycle(id);
  } catch (error) {
    context.log.warn('cycle unavailable', { cycleId: id, reason: messageOf(error) });

    return undefined;
  }
}

function finished(
  entry: Tracked,
  context: CycleContext,
  outcome: Outcome,
  reason: string | undefined,
  view: CycleView | undefined,
): DeviceCycleResult {
  const device = entry.device;
  const delta = (key: keyof DeviceStats): number => device.stats[key] - entry.startStats[key];
  const result: DeviceCycleResult = {
    udid: device.udid,
    cycle: context.cycle,
    outcome,
    servicePhasesMs: view?.phasesMs ?? {},
    devicePhasesMs: device.clock ? devicePhases(device.clock) : {},
    requests: device.counter.requests - entry.startRequests,
    trigger: view?.trigger ?? context.trigger,
    apps: {
      preserved: delta('preservedApps'),
      downloaded: delta('downloadedApps'),
      removed: delta('removedApps'),
    },
    snapshotNotNow: delta('snapshotNotNow'),
    softwareUpdates: delta('softwareUpdates'),
    unlocks: device.activationLock.unlocks - entry.startUnlocks,
  };

  if (entry.cycleId) {
    result.cycleId = entry.cycleId;
  }
  if (reason !== undefined) {
    result.reason = reason;
  }
  if (typeof view?.preserveApps === 'boolean') {
    result.preserveApps = view.preserveApps;
  }
  if (view?.preservationDeclined) {
    result.preservationDeclined = view.preservationDeclined;
  }
  if (view?.snapshot) {
    const snapshot: { ms?: number; notNowAnswers?: number } = {};

    if (typeof view.snapshot.ms === 'number') {
      snapshot.ms = view.snapshot.ms;
    }
    if (typeof view.snapshot.notNowAnswers === 'number') {
      snapshot.notNowAnswers = view.snapshot.notNowAnswers;
    }
    result.serviceSnapshot = snapshot;
  }

  return result;
}

/** The same phases as the service's, measured on the device's clock. */
export function devicePhases(clock: CycleClock): PhaseDurations {
  const spans: [keyof PhaseDurations, number | undefined, number | undefined][] = [
    ['erase', clock.startedAt, clock.eraseAcknowledgedAt],
    ['reenroll', clock.eraseAcknowledgedAt, clock.reenrolledAt],
    ['provision', clock.reenrolledAt, clock.configuredAt],
    // App preservation: from DeviceConfigured acknowledged until the device said Idle again.
    ['snapshot', clock.configuredAt, clock.resumedAt],
    ['total', clock.startedAt, clock.resumedAt ?? clock.configuredAt],
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
