import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DynamicModule, INestApplication, Module } from '@nestjs/common';

import { ServiceName } from '@turnaround/contracts';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, persistenceFor, redirectLogs, TurnaroundConfig } from '@turnaround/platform';
import { freeLoopbackPort } from '@turnaround/testing';

import { startServices } from './bootstrap.js';

@Module({})
class EmptyService {
  static register(config: TurnaroundConfig, service: ServiceName): DynamicModule {
    const schema = { service, entities: [], migrations: { postgres: [], sqlite: [] } };

    return { module: EmptyService, imports: persistenceFor(schema, config) };
  }
}

type Line = Record<string, unknown>;

/** The process's own shutdown lines (the signal path is covered by apps/embedded's spec). */
describe('the shutdown of a process started by startServices', () => {
  const lines: Line[] = [];
  let restoreLogs: () => void;
  let dir = '';
  let app: INestApplication | undefined;

  beforeAll(() => {
    restoreLogs = redirectLogs({ write: (line) => void lines.push(JSON.parse(line) as Line) });
  });

  beforeEach(async () => {
    lines.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'turnaround-shutdown-'));
    const port = await freeLoopbackPort();
    const config = loadConfig({ LOG_LEVEL: 'info', TURNAROUND_DATA_DIR: dir, PORT: String(port) });
    app = await startServices(config, new InProcessTransport(), [
      { service: 'escrow', module: EmptyService.register(config, 'escrow') },
      { service: 'commands', module: EmptyService.register(config, 'commands') },
    ]);
  });

  afterEach(async () => {
    await app?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  afterAll(() => {
    restoreLogs();
  });

  const shutdownLines = () =>
    lines.filter((line) => line.component === 'Process' && String(line.msg).startsWith('shutdown'));

  it('logs when the shutdown starts and when it has finished, once for all its services', async () => {
    // A second close while the first runs joins it.
    await Promise.all([app?.close(), app?.close()]);

    expect(shutdownLines()).toEqual([
      expect.objectContaining({ level: 'info', msg: 'shutdown started' }),
      expect.objectContaining({
        level: 'info',
        msg: 'shutdown finished',
        durationMs: expect.any(Number),
      }),
    ]);
    app = undefined;
  });

  it('listens for stop signals while it runs, and no longer once it is closed', async () => {
    const signals = ['SIGTERM', 'SIGINT'] as const;
    const listening = signals.map((signal) => process.listenerCount(signal));

    await app?.close();
    app = undefined;

    expect(signals.map((signal) => process.listenerCount(signal))).toEqual(
      listening.map((count) => count - 1),
    );
  });
});
