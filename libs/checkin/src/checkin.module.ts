import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { CHECKIN_SCHEMA } from './data-access/migrations/checkin.schema.js';
import { CheckinRepository } from './data-access/checkin.repository.js';
import { ScepChallengeRepository } from './data-access/scep-challenge.repository.js';
import { CheckinRequestsConsumer } from './feature/checkin-requests.consumer.js';
import { CheckinService } from './feature/checkin.service.js';
import { CHECKIN_SETTINGS } from './feature/checkin.settings.js';
import { DeviceAuthorityService } from './feature/device-authority.service.js';
import { CheckinRoutesController } from './feature/device-routes.controller.js';
import { DeviceIdentityService } from './feature/device-identity.service.js';
import { EnrollmentProfileService } from './feature/enrollment-profile.service.js';
import { MachineInfoEnrollmentService } from './feature/machine-info-enrollment.service.js';
import { CheckinRetentionService } from './feature/retention.service.js';
import { ReturnToServiceCheckinService } from './feature/return-to-service-checkin.service.js';
import { ScepController } from './feature/scep.controller.js';
import { ScepService } from './feature/scep.service.js';

/** The check-in URL, enrollment profiles, SCEP and device identities. */
@Module({})
export class CheckinModule {
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    return {
      module: CheckinModule,
      imports: [
        ...persistenceFor(CHECKIN_SCHEMA, config),
        MessagingModule.forService('checkin', transport, {
          relay: config.outboxRelay,
          inboxRetentionDays: config.inboxRetentionDays,
        }),
      ],
      controllers: [CheckinRoutesController, ScepController, CheckinRequestsConsumer],
      providers: [
        {
          provide: CHECKIN_SETTINGS,
          useValue: {
            publicUrl: config.publicUrl,
            pushTopic: config.pushTopic,
            organization: config.organization,
            requestTimeoutMs: config.requestTimeoutMs,
            maxBodyBytes: config.maxBodyBytes,
            caCertificatePath: config.caCertificatePath,
            caPrivateKeyPath: config.caPrivateKeyPath,
            ...(config.clientCertificateHeader
              ? { clientCertificateHeader: config.clientCertificateHeader }
              : {}),
          },
        },
        CheckinRepository,
        ScepChallengeRepository,
        CheckinService,
        DeviceAuthorityService,
        DeviceIdentityService,
        EnrollmentProfileService,
        MachineInfoEnrollmentService,
        ReturnToServiceCheckinService,
        ScepService,
        CheckinRetentionService,
      ],
    };
  }
}
