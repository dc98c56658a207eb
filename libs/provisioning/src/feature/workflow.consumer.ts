import { Controller } from '@nestjs/common';

import {
  AwaitConfiguration,
  CommandAcknowledged,
  CommandDelivered,
  CommandFailed,
  CommandNotNow,
  DeviceCheckedOut,
  DataOf,
  DeviceEnrolled,
  Envelope,
} from '@turnaround/contracts';
import { OnEvent } from '@turnaround/messaging';

import { DeviceWorkflowService } from './device-workflow.service.js';

type DeviceEnrolledEnvelope = Envelope<DataOf<typeof DeviceEnrolled>>;
type AwaitConfigurationEnvelope = Envelope<DataOf<typeof AwaitConfiguration>>;
type DeviceCheckedOutEnvelope = Envelope<DataOf<typeof DeviceCheckedOut>>;
type CommandDeliveredEnvelope = Envelope<DataOf<typeof CommandDelivered>>;
type CommandAcknowledgedEnvelope = Envelope<DataOf<typeof CommandAcknowledged>>;
type CommandFailedEnvelope = Envelope<DataOf<typeof CommandFailed>>;
type CommandNotNowEnvelope = Envelope<DataOf<typeof CommandNotNow>>;

/** The provisioning service's inbox: every event it reacts to, handed to the workflow. */
@Controller()
export class WorkflowConsumer {
  constructor(private readonly workflow: DeviceWorkflowService) {}

  @OnEvent(DeviceEnrolled, 'provisioning')
  async onEnrolled(envelope: DeviceEnrolledEnvelope): Promise<void> {
    await this.workflow.enrolled(envelope.data, envelope.id);
  }

  @OnEvent(AwaitConfiguration, 'provisioning')
  async onAwaitConfiguration(envelope: AwaitConfigurationEnvelope): Promise<void> {
    await this.workflow.awaitingConfiguration(envelope.data, envelope.id);
  }

  @OnEvent(DeviceCheckedOut, 'provisioning')
  async onCheckedOut(envelope: DeviceCheckedOutEnvelope): Promise<void> {
    await this.workflow.checkedOut(envelope.data);
  }

  @OnEvent(CommandDelivered, 'provisioning')
  async onDelivered(envelope: CommandDeliveredEnvelope): Promise<void> {
    await this.workflow.delivered(envelope.data, new Date(envelope.time));
  }

  @OnEvent(CommandAcknowledged, 'provisioning')
  async onAcknowledged(envelope: CommandAcknowledgedEnvelope): Promise<void> {
    await this.workflow.acknowledged(envelope.data, envelope.id);
  }

  @OnEvent(CommandFailed, 'provisioning')
  async onFailed(envelope: CommandFailedEnvelope): Promise<void> {
    await this.workflow.failed(envelope.data, envelope.id);
  }

  @OnEvent(CommandNotNow, 'provisioning')
  async onNotNow(envelope: CommandNotNowEnvelope): Promise<void> {
    await this.workflow.stepOutcome(envelope.data.udid, envelope.data.commandUuid, 'not-now');
  }
}
