import { createLogger } from '@turnaround/platform';

type Task = { what: string; run: () => Promise<void> | void };

const logger = createLogger('BenchCleanup');

/**
 * Everything the run started or created (processes, a database, broker queues, data folders),
 * undone in reverse order exactly once: at the end, on a failure, or on Ctrl-C.
 */
export class Cleanup {
  private readonly tasks: Task[] = [];
  private running?: Promise<void>;

  /** Registers an undo step; the returned function runs it early and forgets it. */
  add(what: string, run: Task['run']): () => Promise<void> {
    const task: Task = { what, run };

    this.tasks.push(task);

    return async () => {
      const index = this.tasks.indexOf(task);

      if (index !== -1) {
        this.tasks.splice(index, 1);
        await this.runOne(task);
      }
    };
  }

  async runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.tasks.length > 0) {
        await this.runOne(this.tasks.pop() as Task);
      }
    })();
    await this.running;
    this.running = undefined;
  }

  /**
   * Ctrl-C or a kill: `first` (stop the work in progress), undo everything, then leave with the
   * signal's conventional exit code.
   */
  onSignals(first: () => void = () => undefined): void {
    const stop = (signal: NodeJS.Signals, code: number): void => {
      logger.warn({ signal }, 'stopping: cleaning up what the run started');
      first();
      void this.runAll().finally(() => process.exit(code));
    };

    process.once('SIGINT', () => stop('SIGINT', 130));
    process.once('SIGTERM', () => stop('SIGTERM', 143));
  }

  private async runOne(task: Task): Promise<void> {
    try {
      await task.run();
    } catch (error) {
      // One failed step must not leave the others undone.
      logger.error({ step: task.what, reason: (error as Error).message }, 'cleanup step failed');
    }
  }
}
