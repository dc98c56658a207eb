import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

import { ServiceName } from '@turnaround/contracts';
import { registerOutboxMetrics } from '@turnaround/platform';

import { BusClient } from './bus.client.js';
import { InboxRetentionService } from './inbox-retention.service.js';
import { MessageBus } from './message-bus.js';
import { OutboxRelay } from './outbox-relay.js';
import { MessageInbox, TransactionalOutbox } from './outbox.js';
import type { MessageTransport } from './transport.js';

export const MESSAGE_TRANSPORT = Symbol('MESSAGE_TRANSPORT');

/** The transport id each service's handlers are registered under. */
export const SERVICE_TRANSPORTS: Record<ServiceName, symbol> = {
  checkin: Symbol('checkin'),
  commands: Symbol('commands'),
  escrow: Symbol('escrow'),
  provisioning: Symbol('provisioning'),
};

export interface MessagingOptions {
  /**
   * `in-process` (default): this process publishes its own outbox. `external`: a separate relay
   * process does (distributed deployments that scale the relay apart from the service).
   */
  relay?: 'in-process' | 'external';
  /** Days a handled message id is kept (TURNAROUND_INBOX_RETENTION_DAYS). */
  inboxRetentionDays: number;
}

/** Starts and stops the in-process relay with the application. */
@Injectable()
class RelayLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private unregister?: () => void;

  constructor(
    @Inject(OutboxRelay) private readonly relay: OutboxRelay | null,
    @Inject(TransactionalOutbox) private readonly outbox: TransactionalOutbox,
    @Inject(MESSAGE_TRANSPORT) private readonly transport: MessageTransport,
  ) {}

  onApplicationBootstrap(): void {
    if (this.relay) {
      const relay = this.relay;
      relay.start(this.outbox);
      this.transport.attachSource?.(relay);
      this.unregister = registerOutboxMetrics(async () => [await relay.backlog()]);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.unregister?.();
    await this.relay?.stop();
  }
}

/**
 * Gives one service its MessageBus over the transport the process chose. Events go through the
 * service's transactional outbox; handled messages are recorded in its inbox, and a retention
 * job of the module's own forgets them once they are old.
 */
@Module({})
export class MessagingModule {
  static forService(service: ServiceName, transport: MessageTransport, options: MessagingOptions): DynamicModule {
    const dataSource = getDataSourceToken(service);

    return {
      module: MessagingModule,
      providers: [
        { provide: MESSAGE_TRANSPORT, useValue: transport },
        { provide: TransactionalOutbox, inject: [dataSource], useFactory: (source: DataSource) => new TransactionalOutbox(service, source) },
        { provide: MessageInbox, inject: [dataSource], useFactory: (source: DataSource) => new MessageInbox(source) },
        {
          provide: OutboxRelay,
          inject: [dataSource],
          useFactory: (source: DataSource) => (options.relay === 'external' ? null : new OutboxRelay(service, source, transport)),
        },
        {
          provide: MessageBus,
          inject: [TransactionalOutbox],
          useFactory: (outbox: TransactionalOutbox) => new MessageBus(service, new BusClient(transport), outbox),
        },
        {
          provide: InboxRetentionService,
          inject: [MessageInbox],
          useFactory: (inbox: MessageInbox) => new InboxRetentionService(service, options.inboxRetentionDays, inbox),
        },
        RelayLifecycle,
      ],
      exports: [MessageBus, MESSAGE_TRANSPORT, TransactionalOutbox, MessageInbox, OutboxRelay],
    };
  }
}
