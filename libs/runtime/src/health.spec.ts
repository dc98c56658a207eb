import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DynamicModule, INestApplication, Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, persistenceFor } from '@turnaround/platform';
import { freeLoopbackPort } from '@turnaround/testing';

import { startServices } from './bootstrap.js';

@Module({})
class EmptyService {
  static register(config: ReturnType<typeof loadConfig>): DynamicModule {
    return { module: EmptyService, imports: persistenceFor({ service: 'escrow', entities: [], migrations: { postgres: [], sqlite: [] } }, config) };
  }
}

describe('health and readiness', () => {
  const transport = new InProcessTransport();
  let app: INestApplication;
  let url = '';
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-health-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', TURNAROUND_DATA_DIR: dir, PORT: String(port) });
    app = await startServices(config, transport, [{ service: 'escrow', module: EmptyService.register(config) }]);
  });

  afterAll(async () => {
    await app.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function probe(path: string): Promise<{ status: number; json: any }> {
    const response = await fetch(`${url}${path}`);

    return { status: response.status, json: await response.json() };
  }

  it('is alive and ready while its database and the bus answer', async () => {
    expect(await probe('/healthz')).toEqual({ status: 200, json: { status: 'alive' } });
    expect(await probe('/readyz')).toEqual({ status: 200, json: { status: 'ready', checks: { bus: 'ok', 'database:escrow': 'ok' } } });
  });

  it('is not ready, naming the check, when the database or the bus is gone, and stays alive', async () => {
    await app.get<DataSource>(getDataSourceToken('escrow'), { strict: false }).destroy();
    expect(await probe('/readyz')).toEqual({ status: 503, json: { status: 'not ready', checks: { bus: 'ok', 'database:escrow': 'not connected' } } });

    await transport.close();
    expect((await probe('/readyz')).json.checks.bus).toBe('not connected');
    expect((await probe('/healthz')).status).toBe(200);
  });
});
