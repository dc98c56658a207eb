import { parseArgs, resolveApiKey, USAGE, UsageError } from './cli.js';
import { createLog } from './log.js';
import { runSimulation } from './orchestrator.js';
import { StderrProgress, type ProgressStream } from './progress.js';
import { renderJson, renderTable, summarize } from './report.js';
import { messageOf } from './simulator.errors.js';

export interface SimulatorIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Exit codes: 0 all returned, 1 a device failed or the run could not start, 2 usage error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The `npm run simulate` program: parse, run, report. Resolves with the exit code. */
export async function simulate(argv: readonly string[], io: SimulatorIo): Promise<number> {
  let command;

  try {
    command = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`simulate: ${error.message}\n`);

      return EXIT.usage;
    }

    throw error;
  }
  if (command.kind === 'help') {
    io.stdout.write(USAGE);

    return EXIT.ok;
  }

  const options = command.options;
  const progress = new StderrProgress(io.stderr);
  const log = createLog(progress.logSink, options.verbose ? 'info' : 'warn');

  try {
    const apiKey = resolveApiKey(options, { env: io.env, cwd: io.cwd });

    if (options.activationLockShare > 0 && options.unlockPort === undefined) {
      io.stderr.write(
        'simulate: --activation-lock without --unlock-port: nothing can clear those locks, so the service should block their cycles\n',
      );
    }

    const result = await runSimulation({
      url: options.url,
      apiKey,
      devices: options.devices,
      cycles: options.cycles,
      platform: options.platform,
      seed: options.seed,
      concurrency: options.concurrency,
      timeoutMs: options.timeoutSeconds * 1000,
      notNowShare: options.notNowShare,
      timing: {
        eraseDelayMs: options.eraseDelayMs,
        idlePollMs: options.idlePollMs,
        snapshotMs: options.snapshotMs,
        updateDelayMs: options.updateDelayMs,
      },
      trigger: options.trigger,
      preserveApps: options.preserveApps,
      rotateApps: options.rotateApps,
      idleTimeoutSeconds: options.idleTimeoutSeconds,
      activationLockShare: options.activationLockShare,
      outdatedShare: options.outdatedShare,
      ...(options.unlockPort === undefined ? {} : { unlockPort: options.unlockPort }),
      notice: (line) => io.stderr.write(`${line}\n`),
      log,
      progress,
    });
    const summary = summarize(result);

    io.stdout.write(options.json ? renderJson(summary) : renderTable(summary));
    // With --json the reasons are in the JSON line; people watching the terminal see them too.
    if (options.json) {
      for (const failure of summary.failures) {
        io.stderr.write(
          `cycle ${failure.cycle} ${failure.udid} ${failure.outcome}: ${failure.reason}\n`,
        );
      }
    }

    return summary.ok ? EXIT.ok : EXIT.failed;
  } catch (error) {
    io.stderr.write(`simulate: ${messageOf(error)}\n`);
    // Scripts reading the one JSON line get one even when the run could not start.
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ ok: false, error: messageOf(error) })}\n`);
    }

    return EXIT.failed;
  }
}
