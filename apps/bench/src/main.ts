import { setMaxListeners } from 'node:events';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createLogger } from '@turnaround/platform';
import { DeviceKeyPool, type DeviceKeySource } from '@turnaround/simulator';

import { Cleanup } from './cleanup.js';
import { CYCLE_FLOWS, runCycles, type CycleRunResult } from './cycle-phase.js';
import type { LoadResult } from './load-job.js';
import { currentLoad, describeMachine, describeSource } from './machine.js';
import { runMemory, sampleMemory, type MemoryResult } from './memory-phase.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { readProfile, renderProfile, summarizeProfile, type ProfileWindow } from './profile-summary.js';
import { runRequestPhases } from './request-phases.js';
import { checkTargets, renderMarkdown, type BenchResults, type ModeResults } from './results.js';
import { ServiceUnderTest, type Mode } from './service-under-test.js';

/**
 * `npm run bench`: starts Turnaround embedded and distributed from dist/, measures it, writes
 * JSON and a markdown table, and stops and removes everything it started (see --help).
 */
const logger = createLogger('Bench');
// dist/apps/bench/src/main.js: dist is three folders up.
const distDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface RunContext {
  options: BenchOptions;
  cleanup: Cleanup;
  workDir: string;
  signal: AbortSignal;
  keys: DeviceKeySource;
}

// Device keys made before any load, handed out in turn to every enrollment of the run: a device's
// key generation is its own cost, not the service's, and would otherwise swamp the load
// generator. Enough that neighbouring devices hold different keys.
const DEVICE_KEY_POOL_SIZE = 256;

async function runMode(mode: Mode, context: RunContext): Promise<ModeResults> {
  const { options, signal, keys } = context;
  const modeCleanup = new Cleanup();
  const stopMode = context.cleanup.add(`${mode} services`, () => modeCleanup.runAll());
  const service = new ServiceUnderTest(mode, {
    distDir,
    workDir: context.workDir,
    logLevel: options.logLevel,
    postgresUrl: options.postgresUrl,
    amqpUrl: options.amqpUrl,
    cleanup: modeCleanup,
    ...(options.profile ? { cpuProfileDir: resolve(options.outDir) } : {}),
  });
  let requests: LoadResult[] = [];
  const cycles: CycleRunResult[] = [];
  let memory: MemoryResult | undefined;
  let devicesEnrolled = 0;

  try {
    await service.start();
    if (options.phases.includes('requests')) {
      const outcome = await runRequestPhases(
        service,
        {
          kinds: options.kinds,
          connections: options.connections,
          warmupMs: options.warmupMs,
          durationMs: options.durationMs,
          poolSize: options.poolSize,
          reportCommands: options.reportCommands,
          enrollConcurrency: options.enrollConcurrency,
          seed: options.seed,
          distDir,
          signal,
          keys,
        },
        modeCleanup,
      );

      requests = outcome.results;
      devicesEnrolled += outcome.enrolled;
    }
    if (options.profile && options.phases.includes('requests')) {
      await writeProfileSummary(service, requestSections(requests, options), options);

      return { mode, requests, cycles, peak: [], devicesEnrolled };
    }
    if (options.phases.includes('cycles')) {
      for (const flow of CYCLE_FLOWS) {
        const run = await runCycles(service, flow, {
          devices: options.cycleDevices,
          cycles: options.cycles,
          concurrency: options.cycleConcurrency,
          busyPollMs: options.busyPollMs,
          idlePollMs: options.idlePollMs,
          seed: options.seed,
          timeoutMs: 600_000,
          keys,
        });

        cycles.push(run);
        devicesEnrolled += run.devices;
        logger.info(
          {
            mode,
            flow,
            returned: run.returned,
            notReturned: run.notReturned,
            cyclesPerSecond: Number(run.cyclesPerSecond.toFixed(1)),
          },
          'RTS cycles measured',
        );
      }
      if (options.profile) {
        await writeProfileSummary(service, cycles.map(cycleSection), options);

        return { mode, requests, cycles, peak: [], devicesEnrolled };
      }
    }
    if (options.phases.includes('memory')) {
      memory = await runMemory(service, {
        targetDevices: options.memoryDevices,
        concurrency: options.enrollConcurrency,
        seed: options.seed,
        signal,
        keys,
      });
      devicesEnrolled += memory.enrolledHere;
      logger.info(
        {
          mode,
          devices: memory.devicesKnown,
          rssMb: memory.processes.map(
            (entry) => `${entry.name}:${Math.round(entry.rssBytes / 2 ** 20)}`,
          ),
        },
        'memory measured',
      );
    }

    return { mode, requests, cycles, memory, peak: sampleMemory(service), devicesEnrolled };
  } finally {
    await stopMode();
  }
}

/** One part of a profile's summary: a title, what was measured, and when. */
interface ProfileSection {
  title: string;
  measured: string;
  windows: ProfileWindow[];
}

function requestSections(requests: LoadResult[], options: BenchOptions): ProfileSection[] {
  const [kind] = options.kinds;
  const measured = requests.find((result) => result.kind === kind);

  if (!measured) {
    throw new Error(`no ${kind} load was measured`);
  }

  return [
    {
      title: `Embedded service under signed ${kind} load (${measured.connections} connections)`,
      measured:
        `${Math.round(measured.requestsPerSecond)} requests/s, p99 ${measured.latencyMs.p99?.toFixed(2)} ms, ` +
        `${measured.cpuMsPerRequest?.toFixed(3)} ms CPU per request.`,
      windows: [{ startUs: measured.windowStartUs, endUs: measured.windowEndUs }],
    },
  ];
}

function cycleSection(run: CycleRunResult): ProfileSection {
  return {
    title: `Embedded service through ${run.flow} RTS cycles (${run.devices} devices)`,
    measured:
      `${run.returned} returned of ${run.returned + run.notReturned}, ${run.cyclesPerSecond.toFixed(1)} cycles/s, ` +
      `${run.cpuMsPerCycle?.toFixed(1)} ms server CPU per cycle, ${run.requestsPerDeviceCycle?.toFixed(1)} device requests per cycle.`,
    windows: run.windowsUs,
  };
}

/** Lets the profiled process exit so V8 writes the profile, then sums up each measured window. */
async function writeProfileSummary(
  service: ServiceUnderTest,
  sections: ProfileSection[],
  options: BenchOptions,
): Promise<void> {
  await service.exitForProfile();

  const dir = resolve(options.outDir);
  const newest = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];

  if (!newest) {
    throw new Error(`no CPU profile was written to ${dir}`);
  }

  const profile = readProfile(newest);
  const text = sections
    .flatMap((section) => [
      `# ${section.title}`,
      '',
      `${section.measured} Profile: ${newest}`,
      '',
      renderProfile(summarizeProfile(profile, section.windows)),
    ])
    .join('\n');
  const file = join(dir, 'summary.md');

  writeFileSync(file, text);
  // The windows again, so the profile can be summed up anew: profile-summary.js FILE START END.
  writeFileSync(
    join(dir, 'window.json'),
    `${JSON.stringify({ profile: newest, sections: sections.map(({ title, windows }) => ({ title, windows })) })}\n`,
  );
  process.stdout.write(`${text}\n`);
  logger.info({ cpuProfile: newest, summary: file }, 'profile summarized');
}

/** Results are committed: no password of a broker or database goes into them. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);

  parsed.password = '';

  return parsed.toString();
}

function writeResults(results: BenchResults, outDir: string): string[] {
  const dir = resolve(outDir);
  const stamp = results.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const files = [
    join(dir, 'results', `${stamp}.json`),
    join(dir, 'latest.json'),
    join(dir, 'latest.md'),
  ];

  mkdirSync(join(dir, 'results'), { recursive: true });
  writeFileSync(files[0] as string, json);
  writeFileSync(files[1] as string, json);
  writeFileSync(files[2] as string, renderMarkdown(results));

  return files;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;

  try {
    const command = parseBenchArgs(argv);

    if (command.kind === 'help') {
      process.stdout.write(USAGE);

      return 0;
    }
    options = command.options;
  } catch (error) {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`bench: ${error.message}\n`);

      return 2;
    }
    throw error;
  }

  const startedAt = new Date().toISOString();
  const workDir = resolve('bench', 'tmp', `run-${startedAt.replace(/[:.]/g, '-')}-${process.pid}`);
  const cleanup = new Cleanup();
  const controller = new AbortController();
  // Every request in flight (up to the highest concurrency) listens for the run's one Ctrl-C.
  setMaxListeners(0, controller.signal);
  let ok = false;

  mkdirSync(workDir, { recursive: true });
  // Registered first, so it runs last: the services' logs stay when the run failed.
  cleanup.add('remove the work folder', () => {
    if (ok) {
      rmSync(workDir, { recursive: true, force: true });

      return;
    }
    for (const entry of readdirSync(workDir)) {
      if (entry.startsWith('data-')) {
        rmSync(join(workDir, entry), { recursive: true, force: true });
      }
    }
    logger.info({ logs: workDir }, 'services\u2019 logs kept');
  });
  cleanup.onSignals(() => controller.abort());
  // Whatever escapes (an error event nobody listened to) must still stop what the run started.
  const crash = (error: unknown): void => {
    logger.fatal({ err: error }, 'bench crashed; cleaning up');
    controller.abort();
    void cleanup.runAll().finally(() => process.exit(1));
  };

  process.once('uncaughtException', crash);
  process.once('unhandledRejection', crash);

  const machine = describeMachine();
  const source = describeSource();

  logger.info(
    { kind: options.kind, modes: options.modes, phases: options.phases, seed: options.seed },
    'bench started',
  );
  try {
    const keysStarted = Date.now();
    const keys = await DeviceKeyPool.create(DEVICE_KEY_POOL_SIZE);
    const context: RunContext = { options, cleanup, workDir, signal: controller.signal, keys };

    logger.info({ keys: keys.size, ms: Date.now() - keysStarted }, 'device keys made');

    const modes: ModeResults[] = [];

    for (const mode of options.modes) {
      modes.push(await runMode(mode, context));
    }
    machine.loadAtEnd = currentLoad();
    if (!options.profile) {
      const results: BenchResults = {
        startedAt,
        finishedAt: new Date().toISOString(),
        kind: options.kind,
        options: {
          ...options,
          postgresUrl: withoutPassword(options.postgresUrl),
          amqpUrl: withoutPassword(options.amqpUrl),
        },
        machine,
        ...(source ? { source } : {}),
        modes,
        targets: modes.flatMap(checkTargets),
      };
      const files = writeResults(results, options.outDir);

      process.stdout.write(`\n${renderMarkdown(results)}\n`);
      logger.info({ files }, 'results written');
    }
    ok = true;

    return 0;
  } catch (error) {
    logger.error({ err: error }, 'bench failed');

    return 1;
  } finally {
    await cleanup.runAll();
  }
}

process.exitCode = await main(process.argv.slice(2));
