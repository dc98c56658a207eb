import { createLogger } from '@turnaround/platform';
import {
  runSimulation,
  silentLog,
  type DeviceKeySource,
  type DeviceTiming,
  type ProgressSink,
  type SimulationResult,
} from '@turnaround/simulator';

import { clockTicksPerSecond, totalCpuMs } from './proc.js';
import type { ServiceUnderTest } from './service-under-test.js';

export type CycleFlow = 'standard' | 'app-preservation';

export const CYCLE_FLOWS: readonly CycleFlow[] = ['standard', 'app-preservation'];

export interface CyclePhaseOptions {
  devices: number;
  cycles: number;
  /** Device requests in flight at once (the simulator's --concurrency). */
  concurrency: number;
  /** Poll intervals standing in for APNs pushes, which the simulator does not have. */
  busyPollMs: readonly [number, number];
  idlePollMs: number;
  seed: string;
  timeoutMs: number;
  keys: DeviceKeySource;
}

export interface CycleRunResult {
  flow: CycleFlow;
  devices: number;
  cyclesAsked: number;
  /** Device cycles that ended returned to service, over all cycles. */
  returned: number;
  notReturned: number;
  /** The cycle phase's wall time: each cycle from its trigger to its last device, summed. */
  cycleWallMs: number;
  cyclesPerSecond: number;
  perCycle: { cycle: number; devices: number; returned: number; wallTimeMs: number }[];
  enrollmentWallMs: number;
  /** Server CPU over the cycles themselves (not the enrollment, not the pauses between). */
  serverCpuMs: number;
  cpuMsPerCycle: number | null;
  requestsPerDeviceCycle: number | null;
  failures: string[];
  timing: Partial<DeviceTiming>;
  /** Each cycle from its trigger to its last device, on the monotonic clock (for a CPU profile). */
  windowsUs: { startUs: number; endUs: number }[];
}

const logger = createLogger('BenchCycles');

/**
 * Full RTS cycles per second, with the simulator's own machinery (runSimulation): it enrolls a
 * fleet, then triggers each cycle over the admin API and follows every device until it is back in
 * service. The devices' own delays (erase, network join, app install, snapshot, software update)
 * are zero; what remains are the polls that stand in for pushes.
 */
export async function runCycles(
  service: ServiceUnderTest,
  flow: CycleFlow,
  options: CyclePhaseOptions,
): Promise<CycleRunResult> {
  const pids = service.services.map((entry) => entry.pid);
  const ticks = clockTicksPerSecond();
  const timing: Partial<DeviceTiming> = {
    eraseDelayMs: 0,
    networkJoinMs: 0,
    appInstallMs: 0,
    snapshotMs: 0,
    updateDelayMs: 0,
    busyPollMs: options.busyPollMs,
    idlePollMs: options.idlePollMs,
  };
  let cycleCpuMs = 0;
  let cycleStartCpu: number | undefined;
  let cycleStartUs = 0;
  const windowsUs: { startUs: number; endUs: number }[] = [];
  // The orchestrator reports each stage through its progress sink: enrolling, then cycle k/K.
  const progress: ProgressSink = {
    start: (label) => {
      cycleStartCpu = label.startsWith('cycle ') ? totalCpuMs(pids, ticks) : undefined;
      cycleStartUs = monotonicUs();
    },
    update: () => undefined,
    finish: (summary) => {
      if (cycleStartCpu !== undefined) {
        cycleCpuMs += totalCpuMs(pids, ticks) - cycleStartCpu;
        cycleStartCpu = undefined;
        windowsUs.push({ startUs: cycleStartUs, endUs: monotonicUs() });
      }
      logger.info({ mode: service.mode, flow, summary }, 'simulation stage finished');
    },
  };
  const simulation = await runSimulation({
    url: service.baseUrl,
    apiKey: service.apiKey,
    devices: options.devices,
    cycles: options.cycles,
    platform: 'ios',
    seed: `${options.seed}-${flow}`,
    concurrency: options.concurrency,
    timeoutMs: options.timeoutMs,
    notNowShare: 0.15,
    timing,
    configurationName: `bench-${flow}`,
    trigger: 'service',
    preserveApps: flow === 'app-preservation',
    statusPollMs: 250,
    log: silentLog,
    progress,
    keys: options.keys,
  });

  return { ...summarize(flow, simulation, cycleCpuMs, timing), windowsUs };
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function summarize(
  flow: CycleFlow,
  simulation: SimulationResult,
  serverCpuMs: number,
  timing: Partial<DeviceTiming>,
): Omit<CycleRunResult, 'windowsUs'> {
  const all = simulation.cycleResults.flatMap((cycle) => cycle.results);
  const returned = all.filter((result) => result.outcome === 'returned').length;
  const cycleWallMs = simulation.cycleResults.reduce((sum, cycle) => sum + cycle.wallTimeMs, 0);
  const requests = all.reduce((sum, result) => sum + result.requests, 0);
  const failures = [
    ...simulation.enrollment.failures.map((failure) => `enrollment: ${failure.reason}`),
    ...all
      .filter((result) => result.outcome !== 'returned')
      .map((result) => `cycle ${result.cycle} ${result.outcome}: ${result.reason ?? ''}`),
  ];

  return {
    flow,
    devices: simulation.devices,
    cyclesAsked: simulation.cycles,
    returned,
    notReturned: all.length - returned,
    cycleWallMs,
    cyclesPerSecond: cycleWallMs > 0 ? (returned * 1000) / cycleWallMs : 0,
    perCycle: simulation.cycleResults.map((cycle) => ({
      cycle: cycle.cycle,
      devices: cycle.devices,
      returned: cycle.results.filter((result) => result.outcome === 'returned').length,
      wallTimeMs: cycle.wallTimeMs,
    })),
    enrollmentWallMs: simulation.enrollment.wallTimeMs,
    serverCpuMs,
    cpuMsPerCycle: returned > 0 ? serverCpuMs / returned : null,
    requestsPerDeviceCycle: all.length > 0 ? requests / all.length : null,
    failures: failures.slice(0, 10),
    timing,
  };
}
