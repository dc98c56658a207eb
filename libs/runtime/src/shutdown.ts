import { INestApplicationContext, ShutdownSignal } from '@nestjs/common';

import { createLogger, logsWritten } from '@turnaround/platform';

type Close = (signal?: string) => Promise<void>;

/**
 * Nest's shutdown hooks, with one log line when the process's shutdown starts (and the signal
 * that started it) and one when it has finished (and how long it took). Each signal Nest listens
 * to closes the application, and the process then ends by that same signal, as with
 * `enableShutdownHooks()`; a direct `app.close()` logs the same two lines. Call it once per
 * process: the embedded process runs its four services in one application.
 */
export function closeOnSignals(app: INestApplicationContext): void {
  const logger = createLogger('Process');
  // NestFactory hands out a proxy that looks `close` up on every call and ignores assignments:
  // the class's own close is the one wrapped, and the wrapper is defined on the application below.
  // It passes the signal on to the shutdown hooks, which the interface does not say.
  const nestClose = (Object.getPrototypeOf(app) as { close: Close }).close;
  const close: Close = (signal) => nestClose.call(app, signal);
  const signals = Object.values(ShutdownSignal);
  let closing: Promise<void> | undefined;
  let stopping = false;

  const closeLogged: Close = async (signal) => {
    const startedAt = performance.now();
    logger.info({ signal }, 'shutdown started');
    try {
      await close(signal);
    } catch (error) {
      const durationMs = Math.round(performance.now() - startedAt);
      logger.error({ signal, durationMs, err: error }, 'shutdown failed');
      throw error;
    }
    for (const name of signals) {
      process.removeListener(name, onSignal);
    }
    logger.info(
      { signal, durationMs: Math.round(performance.now() - startedAt) },
      'shutdown finished',
    );
  };

  // A close while one is under way (a signal during an explicit close) waits for that one.
  const closeOnce: Close = (signal) => {
    closing ??= closeLogged(signal).finally(() => {
      closing = undefined;
    });

    return closing;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal while the first one's shutdown runs changes nothing, as with Nest's hooks.
    if (stopping) {
      return;
    }
    stopping = true;
    void closeOnce(signal).then(
      async () => {
        await logsWritten();
        process.kill(process.pid, signal);
      },
      () => process.exit(1),
    );
  };

  Object.defineProperty(app, 'close', { value: closeOnce, configurable: true, writable: true });
  for (const name of signals) {
    process.on(name, onSignal);
  }
}
