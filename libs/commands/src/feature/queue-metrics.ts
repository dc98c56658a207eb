import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';

import { registerCommandQueueDepth } from '@turnaround/platform';

import { CommandQueueRepository } from '../data-access/command-queue.repository.js';

/** Feeds `turnaround_command_queue_depth` from this service's database while the module runs. */
@Injectable()
export class QueueMetrics implements OnModuleInit, OnModuleDestroy {
  private unregister?: () => void;

  constructor(private readonly repository: CommandQueueRepository) {}

  onModuleInit(): void {
    this.unregister = registerCommandQueueDepth(() => this.repository.countPending());
  }

  // Before the data source closes: a scrape after that would only log failed counts.
  onModuleDestroy(): void {
    this.unregister?.();
  }
}
