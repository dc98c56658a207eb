import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import type { DataSource } from 'typeorm';

import type { ServiceName } from '@turnaround/contracts';
import type { MessageTransport } from '@turnaround/messaging';
import { createLogger } from '@turnaround/platform';

// A database that takes longer than this to answer `SELECT 1` is as good as down for devices.
const DATABASE_CHECK_MS = 2_000;

type CheckResult = 'ok' | string;

/**
 * `/healthz`: the process is alive and serving HTTP (liveness; nothing else, so a slow database
 * never gets a healthy process restarted). `/readyz`: every service in the process can reach its
 * database and the bus (readiness; a failing check names itself, and the process is taken out of
 * rotation until it passes).
 */
export function mountHealthRoutes(app: INestApplication, services: readonly ServiceName[], transport: MessageTransport): void {
  const logger = createLogger('Health');
  const http = app.getHttpAdapter();
  let lastReady: boolean | undefined;

  http.get('/healthz', (_request: Request, response: Response) => {
    response.status(200).json({ status: 'alive' });
  });
  http.get('/readyz', async (_request: Request, response: Response) => {
    const checks: Record<string, CheckResult> = { bus: transport.isHealthy() ? 'ok' : 'not connected' };
    await Promise.all(
      services.map(async (service) => {
        checks[`database:${service}`] = await databaseCheck(app, service);
      }),
    );
    const ready = Object.values(checks).every((result) => result === 'ok');
    if (ready !== lastReady) {
      // One line when readiness changes, not one per probe.
      logger[ready ? 'info' : 'warn']({ ready, checks }, 'readiness changed');
      lastReady = ready;
    }
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
}

async function databaseCheck(app: INestApplication, service: ServiceName): Promise<CheckResult> {
  let dataSource: DataSource;
  try {
    dataSource = app.get<DataSource>(getDataSourceToken(service), { strict: false });
  } catch {
    return 'no database registered';
  }
  if (!dataSource.isInitialized) {
    return 'not connected';
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      dataSource.query('SELECT 1'),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_CHECK_MS} ms`)), DATABASE_CHECK_MS);
      }),
    ]);

    return 'ok';
  } catch (error) {
    return `unreachable: ${(error as Error).message.slice(0, 200)}`;
  } finally {
    clearTimeout(timer);
  }
}
