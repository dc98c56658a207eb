import 'reflect-metadata';

import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { ServiceName } from '@turnaround/contracts';
import { InboxMessageEntity, MESSAGING_ENTITIES, RETENTION_BATCH } from '@turnaround/platform';
import { daysAgo, messagingOnlySchema, onEachDatabase, RETENTION_NOW } from '@turnaround/testing';

import { InProcessTransport } from './in-process.transport.js';
import { InboxRetentionService } from './inbox-retention.service.js';
import { MessagingModule } from './messaging.module.js';

const NOW = RETENTION_NOW;
const INBOX_RETENTION_DAYS = 7;
const SERVICES: readonly ServiceName[] = ['checkin', 'commands', 'escrow', 'provisioning'];

const MESSAGING_ONLY = messagingOnlySchema('checkin');

function handled(messageId: string, handledAt: Date): InboxMessageEntity {
  return Object.assign(new InboxMessageEntity(), {
    messageId,
    type: 'checkin.device.enrolled.v1',
    handledAt,
  });
}

@Module({})
class DataSourcesModule {}

@Module({})
class ProcessModule {}

/**
 * A process as the runtime builds one: each service's data source under its name, and the
 * messaging module once per service, with the relay left out.
 */
async function startProcess(
  sources: Partial<Record<ServiceName, DataSource>>,
): Promise<INestApplicationContext> {
  const transport = new InProcessTransport();
  const services = Object.entries(sources) as [ServiceName, DataSource][];
  const connections = services.map(([service, source]) => ({
    provide: getDataSourceToken(service),
    useFactory: () => source,
  }));

  return NestFactory.createApplicationContext(
    {
      module: ProcessModule,
      imports: [
        {
          module: DataSourcesModule,
          global: true,
          providers: connections,
          exports: connections.map((connection) => connection.provide),
        },
        ...services.map(([service]) =>
          MessagingModule.forService(service, transport, {
            relay: 'external',
            inboxRetentionDays: INBOX_RETENTION_DAYS,
          }),
        ),
      ],
    },
    { logger: false },
  );
}

async function leftIn(source: DataSource): Promise<string[]> {
  const rows = await source.getRepository(InboxMessageEntity).find({ order: { messageId: 'ASC' } });

  return rows.map((row) => row.messageId);
}

describe('the messaging module’s inbox retention', () => {
  onEachDatabase(MESSAGING_ONLY, (database) => {
    let app: INestApplicationContext;
    let retention: InboxRetentionService;

    beforeAll(async () => {
      await database.dataSource.synchronize();
      app = await startProcess({ checkin: database.dataSource });
      retention = app.get(InboxRetentionService, { strict: false });
    });

    afterAll(async () => {
      await app?.close();
    });

    beforeEach(async () => {
      await database.dataSource.getRepository(InboxMessageEntity).clear();
    });

    it('forgets handled message ids older than the inbox retention and keeps the recent ones', async () => {
      await database.dataSource
        .getRepository(InboxMessageEntity)
        .insert([
          handled('old-message', daysAgo(INBOX_RETENTION_DAYS + 1)),
          handled('recent-message', daysAgo(INBOX_RETENTION_DAYS - 1)),
        ]);

      await expect(retention.purge(NOW)).resolves.toEqual({ inboxMessages: 1 });
      expect(await leftIn(database.dataSource)).toEqual(['recent-message']);
    });

    it('forgets a backlog in several batches within one pass', async () => {
      const backlog = Array.from({ length: RETENTION_BATCH * 2 + 3 }, (_, index) =>
        handled(`old-${String(index).padStart(5, '0')}`, daysAgo(30)),
      );
      const inbox = database.dataSource.getRepository(InboxMessageEntity);
      for (let start = 0; start < backlog.length; start += 100) {
        await inbox.insert(backlog.slice(start, start + 100));
      }
      await inbox.insert(handled('recent-message', daysAgo(1)));

      await expect(retention.purge(NOW)).resolves.toEqual({ inboxMessages: backlog.length });
      expect(await leftIn(database.dataSource)).toEqual(['recent-message']);
    });
  });

  it('in a process running the four services, purges each service’s inbox by one job of its own', async () => {
    const sources = Object.fromEntries(
      await Promise.all(
        SERVICES.map(async (service) => {
          const source = await new DataSource({
            type: 'better-sqlite3',
            database: ':memory:',
            entities: MESSAGING_ENTITIES,
            synchronize: true,
          }).initialize();
          await source
            .getRepository(InboxMessageEntity)
            .insert([handled(`old-${service}`, daysAgo(30)), handled(`recent-${service}`, NOW)]);

          return [service, source] as const;
        }),
      ),
    ) as Record<ServiceName, DataSource>;
    const app = await startProcess(sources);
    try {
      const jobs = app.get(InboxRetentionService, { strict: false, each: true });

      // Two jobs on one table would find nothing the second time, and leave another's old row.
      expect(jobs).toHaveLength(SERVICES.length);
      for (const job of jobs) {
        await expect(job.purge(NOW)).resolves.toEqual({ inboxMessages: 1 });
      }
      for (const service of SERVICES) {
        expect(await leftIn(sources[service])).toEqual([`recent-${service}`]);
      }
    } finally {
      await app.close();
      await Promise.all(SERVICES.map((service) => sources[service].destroy()));
    }
  });
});
