import { createLogger } from '@turnaround/platform';
import { createHardware, type DeviceKeySource, type Platform } from '@turnaround/simulator';

import { BenchDevice, type EnrolledDevice } from './bench-device.js';

export interface FleetOptions {
  /** The service's base URL; the ADE profile `url` is `<baseUrl>/mdm/enroll`. */
  baseUrl: string;
  platform: Platform;
  /** Distinct per fleet, so that no two fleets of a run share a UDID. */
  seed: string;
  count: number;
  /** Devices enrolling at once. */
  concurrency: number;
  signal: AbortSignal;
  /** Log a progress line every this many devices; 0 for none. */
  progressEvery?: number;
  /** The devices' SCEP keys (the bench's pool, made before the load). */
  keys: DeviceKeySource;
}

export interface FleetResult {
  enrolled: EnrolledDevice[];
  failures: string[];
  wallTimeMs: number;
  requests: number;
}

const logger = createLogger('BenchFleet');

/** Runs `worker` over `count` items, `concurrency` at a time. */
export async function forEachLimited(
  count: number,
  concurrency: number,
  worker: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;

  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next;

        next += 1;
        await worker(index);
      }
    }),
  );
}

/** Enrolls `count` devices with real signed requests and brings each into service. */
export async function enrollFleet(options: FleetOptions): Promise<FleetResult> {
  const started = Date.now();
  const enrolled: EnrolledDevice[] = [];
  const failures: string[] = [];
  let requests = 0;

  await forEachLimited(options.count, options.concurrency, async (index) => {
    const device = new BenchDevice(
      createHardware(options.platform, index, options.seed),
      `${options.baseUrl}/mdm/enroll`,
      options.seed,
      options.keys,
    );

    try {
      enrolled.push(await device.enroll(options.signal));
    } catch (error) {
      if (options.signal.aborted) {
        throw error;
      }
      failures.push((error as Error).message);
    }
    requests += device.requests;

    const done = enrolled.length + failures.length;

    if (options.progressEvery && done % options.progressEvery === 0) {
      logger.info(
        {
          fleet: options.seed,
          enrolled: enrolled.length,
          failed: failures.length,
          of: options.count,
        },
        'enrolling',
      );
    }
  });

  return { enrolled, failures, wallTimeMs: Date.now() - started, requests };
}
