import 'reflect-metadata';

import { DynamicModule, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';

import { ServiceName } from '@turnaround/contracts';
import { BusServer, MessageTransport } from '@turnaround/messaging';
import { createLogger, loadConfig, setLogLevel, TurnaroundConfig } from '@turnaround/platform';

import { mountHealthRoutes } from './health.js';
import { mountMetricsRoute } from './metrics-route.js';
import { NestLogger } from './nest-logger.js';
import { requestContext } from './request-context.js';
import { serveDeviceRoutesDirectly } from './device-route-server.js';
import { closeOnSignals } from './shutdown.js';
import { createTransport } from './transport-factory.js';

export interface ServiceModules {
  service: ServiceName;
  module: DynamicModule;
}

/**
 * Starts one HTTP server with the given services' modules and one bus server per service, all on
 * the same transport. Device routes (/mdm/...) get no body parser: their handlers read the exact
 * bytes, which the Mdm-Signature covers. The admin API (/api/...) parses JSON.
 */
export async function startServices(
  config: TurnaroundConfig,
  transport: MessageTransport,
  services: ServiceModules[],
): Promise<INestApplication> {
  setLogLevel(config.logLevel);
  const logger = createLogger('Bootstrap');
  await transport.connect();

  @Module({ imports: services.map((entry) => entry.module) })
  class ProcessModule {}

  const app = await NestFactory.create(ProcessModule, { bodyParser: false, logger: new NestLogger() });
  // First, so that every line of a request, whichever route answers it, carries its id.
  app.use(requestContext);
  app.use('/api', express.json({ limit: '16mb' }));
  app.use('/api', (error: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (error.type === 'entity.parse.failed' || error.status === 400 || error.status === 413) {
      res.status(error.status ?? 400).json({ code: error.status === 413 ? 'API.BODY_TOO_LARGE' : 'API.MALFORMED_JSON', message: error.message });

      return;
    }
    next(error);
  });
  serveDeviceRoutesDirectly(app);
  mountHealthRoutes(app, services.map((entry) => entry.service), transport);
  mountMetricsRoute(app);
  for (const { service } of services) {
    app.connectMicroservice({ strategy: BusServer.forService(app, service, transport) });
  }
  closeOnSignals(app);
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  logger.info(
    { services: services.map((entry) => entry.service), url: `http://${config.host}:${config.port}`, publicUrl: config.publicUrl, database: config.databaseUrl ? 'postgresql' : 'sqlite', bus: config.amqpUrl ? 'rabbitmq' : 'in-process' },
    'services started',
  );

  return app;
}

/** Runs a process's main function: a clear message and exit code 1 when it cannot start. */
export function runMain(main: () => Promise<INestApplication>): void {
  const logger = createLogger('Process');
  // A promise nobody awaited failed: log it loudly, keep serving (the request that caused it has
  // already been answered or has failed on its own).
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; stopping');
    process.exit(1);
  });
  main().catch((error: unknown) => {
    createLogger('Bootstrap').fatal({ err: error }, 'could not start');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  });
}

interface ServiceModuleClass {
  register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule;
}

/** Runs one service in its own process (distributed mode). */
export function runService(service: ServiceName, defaultPort: number, module: ServiceModuleClass): void {
  runMain(async () => {
    const config = loadConfig(undefined, { port: defaultPort });
    const transport = createTransport(config, false);

    return startServices(config, transport, [{ service, module: module.register(config, transport) }]);
  });
}
