import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { CycleRetentionRepository } from './data-access/cycle-retention.repository.js';
import { PROVISIONING_SCHEMA } from './data-access/migrations/provisioning.schema.js';
import { ProvisioningRepository } from './data-access/provisioning.repository.js';
import { AdminApiGuard } from './feature/admin-api.guard.js';
import { AdminController } from './feature/admin.controller.js';
import { CycleMetrics } from './feature/cycle-metrics.js';
import { CycleProfilesService } from './feature/cycle-profiles.service.js';
import { CycleTimerService } from './feature/cycle-timer.service.js';
import { CycleService } from './feature/cycle.service.js';
import { DeviceRequestsConsumer } from './feature/device-requests.consumer.js';
import { DeviceQueryService } from './feature/device-query.service.js';
import { DeviceAssignmentService } from './feature/device-assignment.service.js';
import { DeviceWorkflowService } from './feature/device-workflow.service.js';
import { PROVISIONING_SETTINGS } from './feature/provisioning.settings.js';
import { ProvisioningRetentionService } from './feature/retention.service.js';
import { ReturnToServiceService } from './feature/return-to-service.service.js';
import { RtsConfigurationService } from './feature/rts-configuration.service.js';
import { WorkflowConsumer } from './feature/workflow.consumer.js';

/** The Return to Service workflow, RTS configurations and the admin API. */
@Module({})
export class ProvisioningModule {
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    return {
      module: ProvisioningModule,
      imports: [
        ...persistenceFor(PROVISIONING_SCHEMA, config),
        MessagingModule.forService('provisioning', transport, {
          relay: config.outboxRelay,
          inboxRetentionDays: config.inboxRetentionDays,
        }),
      ],
      controllers: [AdminController, WorkflowConsumer, DeviceRequestsConsumer],
      providers: [
        {
          provide: PROVISIONING_SETTINGS,
          useValue: {
            releaseTimeoutSeconds: config.releaseTimeoutSeconds,
            phaseDeadlineSeconds: config.phaseDeadlineSeconds,
            requestTimeoutMs: config.requestTimeoutMs,
            apiKey: config.apiKey,
          },
        },
        ProvisioningRepository,
        CycleRetentionRepository,
        ProvisioningRetentionService.provider(config),
        CycleMetrics,
        CycleProfilesService,
        CycleService,
        CycleTimerService,
        DeviceQueryService,
        DeviceWorkflowService,
        DeviceAssignmentService,
        ReturnToServiceService,
        RtsConfigurationService,
        AdminApiGuard,
      ],
      exports: [CycleTimerService],
    };
  }
}
