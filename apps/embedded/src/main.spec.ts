import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { freeLoopbackPort } from '@turnaround/testing';

type Line = Record<string, unknown>;

// The built entry point, as `npm start` runs it (`npm test` builds dist/ first).
const MAIN = resolve(process.cwd(), 'dist/apps/embedded/src/main.js');

function parse(text: string): Line {
  try {
    return JSON.parse(text) as Line;
  } catch {
    return { text };
  }
}

describe('the embedded process', () => {
  let dataDir = '';
  let embedded: ChildProcess | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-embedded-'));
  });

  afterEach(() => {
    if (embedded?.exitCode === null && embedded.signalCode === null) {
      embedded.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs one line when SIGTERM starts its shutdown and one when it has finished, then ends by that signal', async () => {
    expect(existsSync(MAIN)).toBe(true);
    const port = await freeLoopbackPort();
    const child = spawn(process.execPath, ['--enable-source-maps', MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        TURNAROUND_DATA_DIR: dataDir,
        TURNAROUND_PUBLIC_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    embedded = child;
    const lines: Line[] = [];
    // Closed: it has ended and everything it printed has been read.
    const closed = new Promise<NodeJS.Signals | null>((done) =>
      child.once('close', (_code, signal) => done(signal)),
    );
    const started = new Promise<void>((done, fail) => {
      createInterface({ input: child.stdout! }).on('line', (text) => {
        const line = parse(text);
        lines.push(line);
        if (line.msg === 'services started') {
          done();
        }
      });
      void closed.then(() =>
        fail(new Error(`it ended before it started: ${JSON.stringify(lines)}`)),
      );
    });

    await started;
    process.kill(child.pid!, 'SIGTERM');

    await expect(closed).resolves.toBe('SIGTERM');
    expect(lines.filter((line) => String(line.msg).startsWith('shutdown'))).toEqual([
      expect.objectContaining({
        level: 'info',
        component: 'Process',
        msg: 'shutdown started',
        signal: 'SIGTERM',
      }),
      expect.objectContaining({
        level: 'info',
        component: 'Process',
        msg: 'shutdown finished',
        signal: 'SIGTERM',
        durationMs: expect.any(Number),
      }),
    ]);
  });
});
