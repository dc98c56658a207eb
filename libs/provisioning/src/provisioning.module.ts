import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { PROVISIONING_ENTITIES } from './data-access/provisioning.entities.js';
import { ProvisioningRepository } from './data-access/provisioning.repository.js';
import { AdminApiGuard } from './feature/admin-api.guard.js';
import { AdminController } from './feature/admin.controller.js';
import { CycleTimerService } from './feature/cycle-timer.service.js';
import { CycleService } from './feature/cycle.service.js';
import { DeviceRequestsConsumer } from './feature/device-requests.consumer.js';
import { DeviceQueryService } from './feature/device-query.service.js';
import { DeviceAssignmentService } from './feature/device-assignment.service.js';
import { DeviceWorkflowService } from './feature/device-workflow.service.js';
import { PROVISIONING_SETTINGS } from './feature/provisioning.settings.js';
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
        ...persistenceFor('provisioning', config, PROVISIONING_ENTITIES),
        MessagingModule.forService('provisioning', transport),
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
