import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Runs Turnaround the way the README does, as a built process (`npm test` builds `dist/` first),
 * for the end-to-end specs. Only loopback addresses; the process is stopped by its pid.
 */
export class ServiceProcess {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'turnaround-e2e-'));
  private child?: ChildProcess;
  private output = '';

  constructor(
    private readonly entry: 'embedded' | 'launcher',
    readonly port: number,
    private readonly env: Record<string, string> = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get apiKey(): string {
    return readFileSync(join(this.dataDir, 'api-key'), 'utf8').trim();
  }

  /** Everything the process printed. */
  get fullLog(): string {
    return this.output;
  }

  /** What the process printed, for a failing test's message. */
  get log(): string {
    return this.output.slice(-20_000);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const main = resolve(process.cwd(), `dist/apps/${this.entry}/src/main.js`);
    this.child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TURNAROUND_DATA_DIR: this.dataDir,
        PORT: String(this.port),
        TURNAROUND_PUBLIC_URL: this.url,
        LOG_LEVEL: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`${this.entry} exited with ${this.child.exitCode}:\n${this.log}`);
      }
      try {
        const response = await fetch(`${this.url}/api/v1/devices`, {
          headers: { Authorization: `Bearer ${this.apiKey}` },
          signal: AbortSignal.timeout(1_000),
        });
        if (response.status === 200) {
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((done) => setTimeout(done, 250));
    }
    throw new Error(`${this.entry} did not answer within ${timeoutMs} ms:\n${this.log}`);
  }

  /**
   * The pid of the process the launcher runs for `app` (`provisioning`, `relay`, ...), read from
   * /proc: the launcher's child whose command line is that app's entry point.
   */
  childPid(app: string): number | undefined {
    const parent = this.child?.pid;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) {
        continue;
      }
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`apps/${app}/src/main.js`)) {
          return Number(entry);
        }
      } catch {
        // the process ended while we looked
      }
    }

    return undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
