import 'reflect-metadata';

import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { ServiceName } from '@turnaround/contracts';
import type { MessageTransport } from '@turnaround/messaging';
import { OutboxRelay } from '@turnaround/messaging';
import { createLogger, loadConfig, MESSAGING_ENTITIES, registerOutboxMetrics, setLogLevel, TurnaroundConfig } from '@turnaround/platform';

import { runMain } from './bootstrap.js';
import { mountHealthRoutes } from './health.js';
import { mountMetricsRoute } from './metrics-route.js';
import { NestLogger } from './nest-logger.js';
import { closeOnSignals } from './shutdown.js';
import { createTransport } from './transport-factory.js';

const SERVICES: readonly ServiceName[] = ['checkin', 'commands', 'escrow', 'provisioning'];
const RELAY_TRANSPORT = Symbol('RELAY_TRANSPORT');

/** Starts one relay per service's outbox and stops them, and their connections, on shutdown. */
@Injectable()
class RelayHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly relays: OutboxRelay[];
  private unregister?: () => void;

  constructor(
    @Inject(RELAY_TRANSPORT) private readonly transport: MessageTransport,
    @Inject(getDataSourceToken('checkin')) checkin: DataSource,
    @Inject(getDataSourceToken('commands')) commands: DataSource,
    @Inject(getDataSourceToken('escrow')) escrow: DataSource,
    @Inject(getDataSourceToken('provisioning')) provisioning: DataSource,
  ) {
    const sources: Record<ServiceName, DataSource> = { checkin, commands, escrow, provisioning };
    this.relays = SERVICES.map((service) => new OutboxRelay(service, sources[service], transport));
  }

  onApplicationBootstrap(): void {
    for (const relay of this.relays) {
      relay.start();
    }
    this.unregister = registerOutboxMetrics(() => Promise.all(this.relays.map((relay) => relay.backlog())));
  }

  async onApplicationShutdown(): Promise<void> {
    this.unregister?.();
    await Promise.all(this.relays.map((relay) => relay.stop()));
    await Promise.all(this.relays.map((relay) => relay.dataSource.destroy().catch(() => undefined)));
    await this.transport.close();
  }
}

/**
 * The relay reads only the outbox table of each service's schema; it never writes a service's own
 * tables, and the schemas themselves are created and migrated by the services' migration command.
 */
@Module({})
class RelayModule {
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    return {
      module: RelayModule,
      providers: [
        { provide: RELAY_TRANSPORT, useValue: transport },
        ...SERVICES.map((service) => ({
          provide: getDataSourceToken(service),
          useFactory: () =>
            new DataSource({
              type: 'postgres',
              url: config.databaseUrl,
              schema: service,
              entities: MESSAGING_ENTITIES,
              synchronize: false,
              extra: { max: 3, connectionTimeoutMillis: 10_000 },
            }).initialize(),
        })),
        RelayHost,
      ],
    };
  }
}

/** Runs the outbox relay process: /healthz, /readyz (each service database and the broker), /metrics. */
export function runRelay(defaultPort: number): void {
  runMain(async () => {
    const config = loadConfig(undefined, { port: defaultPort });
    setLogLevel(config.logLevel);
    if (!config.databaseUrl || !config.amqpUrl) {
      throw new Error('the relay process needs DATABASE_URL (PostgreSQL) and AMQP_URL: it relays what services on PostgreSQL staged to RabbitMQ');
    }
    const transport = createTransport(config, false);
    await transport.connect();
    const app = await NestFactory.create(RelayModule.register(config, transport), { logger: new NestLogger() });
    mountHealthRoutes(app, SERVICES, transport);
    mountMetricsRoute(app);
    closeOnSignals(app);
    await app.listen(config.port, config.host);
    createLogger('Relay').info({ url: `http://${config.host}:${config.port}`, services: SERVICES }, 'outbox relay started');

    return app;
  });
}
