export { CommandsModule } from './commands.module.js';
export { CommandQueueRepository } from './data-access/command-queue.repository.js';
export type {
  CommandRef,
  CommandView,
  EnqueueInput,
  EnqueueOutcome,
  IdentityBinding,
} from './data-access/command-queue.repository.js';
export type { CommandState, Placement } from './domain/queue-rules.js';
export type { ReportStatus } from './domain/report-rules.js';
export { COMMANDS_SCHEMA } from './data-access/migrations/commands.schema.js';
