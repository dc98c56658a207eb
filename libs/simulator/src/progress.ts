import type { LineSink } from './log.js';
import type { ProgressSink } from './orchestrator.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

/**
 * Progress on stderr: a bar redrawn in place when stderr is a terminal, otherwise one line per
 * finished stage (so CI logs stay readable). Log lines go through {@link logSink}, which keeps
 * them from tearing the bar.
 */
export class StderrProgress implements ProgressSink {
  private label = '';
  private doneLabel = 'done';
  private total = 0;
  private done = 0;
  private failed = 0;
  private startedAt = 0;
  private drawnAt = 0;
  private drawn = false;

  constructor(private readonly stream: ProgressStream) {}

  get isTerminal(): boolean {
    return this.stream.isTTY === true;
  }

  /** Where log lines go: above the bar on a terminal, straight through otherwise. */
  get logSink(): LineSink {
    return {
      write: (line: string) => {
        this.clear();
        this.stream.write(line);
        if (this.label) {
          this.draw(true);
        }
      },
    };
  }

  start(label: string, total: number, doneLabel = 'done'): void {
    this.label = label;
    this.doneLabel = doneLabel;
    this.total = total;
    this.done = 0;
    this.failed = 0;
    this.startedAt = Date.now();
    this.draw(true);
  }

  update(done: number, failed: number): void {
    this.done = done;
    this.failed = failed;
    this.draw(false);
  }

  finish(summary: string): void {
    this.clear();
    this.label = '';
    this.stream.write(`${summary}\n`);
  }

  private clear(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  private draw(force: boolean): void {
    if (!this.isTerminal || !this.label) {
      return;
    }

    const now = Date.now();

    if (!force && now - this.drawnAt < REDRAW_MS) {
      return;
    }

    const share = this.total === 0 ? 1 : Math.min(1, (this.done + this.failed) / this.total);
    const filled = Math.round(share * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
    const elapsed = ((now - this.startedAt) / 1000).toFixed(1);
    const line = `${this.label} [${bar}] ${this.done}/${this.total} ${this.doneLabel}, ${this.failed} failed, ${elapsed} s`;

    this.stream.write(`\r\x1b[2K${line.slice(0, (this.stream.columns ?? 120) - 1)}`);
    this.drawn = true;
    this.drawnAt = now;
  }
}
