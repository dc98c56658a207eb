import { createLogger } from '@turnaround/platform';
import { AdminClient, type DeviceKeySource } from '@turnaround/simulator';

import { enrollFleet } from './fleet.js';
import { sampleProcess } from './proc.js';
import type { ServiceUnderTest } from './service-under-test.js';

export interface ProcessMemory {
  name: string;
  pid: number;
  rssBytes: number;
  /** VmHWM: the highest resident set since the process started. */
  peakRssBytes: number;
}

export interface MemoryResult {
  /** Devices the service should know by the end of the phase. */
  targetDevices: number;
  /** Devices the admin API lists after the phase. */
  devicesKnown: number;
  enrolledHere: number;
  failed: number;
  /** A few of the reasons. */
  failures: string[];
  enrollmentWallMs: number;
  enrollmentsPerSecond: number;
  /** Every service process right after the last device was in service. */
  processes: ProcessMemory[];
}

export interface MemoryPhaseOptions {
  targetDevices: number;
  concurrency: number;
  seed: string;
  signal: AbortSignal;
  keys: DeviceKeySource;
}

const logger = createLogger('BenchMemory');

export function sampleMemory(service: ServiceUnderTest): ProcessMemory[] {
  return service.allProcesses.map((entry) => {
    const sample = sampleProcess(entry.pid);

    return {
      name: entry.name,
      pid: entry.pid,
      rssBytes: sample.rssBytes,
      peakRssBytes: sample.peakRssBytes,
    };
  });
}

/**
 * Resident memory with a fleet enrolled: enrolls devices (signed MachineInfo, Authenticate,
 * TokenUpdate, bootstrap token, released with DeviceConfigured) until the service knows
 * `targetDevices`, then reads each service process's RSS.
 */
export async function runMemory(
  service: ServiceUnderTest,
  options: MemoryPhaseOptions,
): Promise<MemoryResult> {
  const admin = new AdminClient(service.baseUrl, service.apiKey, undefined, 120_000);
  const known = (await admin.devices()).length;
  const missing = Math.max(0, options.targetDevices - known);

  logger.info({ mode: service.mode, known, enrolling: missing }, 'memory phase enrolling');

  const fleet = await enrollFleet({
    baseUrl: service.baseUrl,
    platform: 'ios',
    seed: `${options.seed}-memory`,
    count: missing,
    concurrency: options.concurrency,
    signal: options.signal,
    progressEvery: 500,
    keys: options.keys,
  });
  const processes = sampleMemory(service);
  const devicesKnown = (await admin.devices()).length;

  return {
    targetDevices: options.targetDevices,
    devicesKnown,
    enrolledHere: fleet.enrolled.length,
    failed: fleet.failures.length,
    failures: fleet.failures.slice(0, 10),
    enrollmentWallMs: fleet.wallTimeMs,
    enrollmentsPerSecond:
      fleet.wallTimeMs > 0 ? (fleet.enrolled.length * 1000) / fleet.wallTimeMs : 0,
    processes,
  };
}
