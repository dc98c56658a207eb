import { Inject, Injectable } from '@nestjs/common';

import { CheckEnrollmentPolicy } from '@turnaround/contracts';
import { fingerprintOf } from '@turnaround/identity';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, DeviceReply } from '@turnaround/platform';
import { buildSoftwareUpdateRequired, checkCmsIntegrity, readMachineInfo } from '@turnaround/protocol';
import type { MachineInfo, SoftwareUpdateRequiredBody } from '@turnaround/protocol';

import { machineInfoEnvelope, MachineInfoRefusedError } from '../domain/machine-info-rules.js';
import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { EnrollmentProfileService } from './enrollment-profile.service.js';

/** Whether the device must update first, and why the policy could not be asked when it could not. */
interface PolicyOutcome {
  update?: SoftwareUpdateRequiredBody;
  unavailable?: string;
}

/**
 * Answers the ADE enrollment fetch: the device POSTs its CMS-signed MachineInfo to the profile
 * `url` and gets its enrollment profile, or Apple's 403 software-update-required.
 *
 * Signature policy (B24), the same on every platform: the body must be CMS SignedData, and its
 * content must verify with the certificate the envelope carries (integrity). The signer's chain is
 * NOT checked: Apple's device CA certificates are not available to this service, so a forged
 * MachineInfo signed with a self-made certificate is accepted. MachineInfo therefore decides only
 * whether to ask for an OS update, never who may enroll; the enrollment itself is bound later by
 * the identity in the profile.
 */
@Injectable()
export class MachineInfoEnrollmentService {
  private readonly logger = createLogger('MachineInfoEnrollment');

  constructor(
    private readonly bus: MessageBus,
    private readonly profiles: EnrollmentProfileService,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  /** Throws `MACHINE_INFO.*` or `PLIST.*` for a body that is not a readable, intact MachineInfo. */
  async answer(body: Uint8Array): Promise<DeviceReply> {
    const envelope = machineInfoEnvelope(body);
    const info = readMachineInfo(envelope);
    const integrity = checkCmsIntegrity(envelope);
    if (!integrity.intact) {
      throw new MachineInfoRefusedError('MACHINE_INFO.SIGNATURE_INVALID', `the MachineInfo signature does not hold: ${integrity.reason}`);
    }
    const fields = {
      udid: info.udid,
      serialNumber: info.serial,
      product: info.product,
      osVersion: info.osVersion,
      buildVersion: info.version,
      canRequestSoftwareUpdate: info.mdmCanRequestSoftwareUpdate === true,
      signerFingerprint: fingerprintOf(integrity.signerCertificate),
    };
    // Apple: only a device that says it can be asked may get the 403; any other would fail setup.
    const policy = info.mdmCanRequestSoftwareUpdate === true ? await this.policyFor(info) : {};
    if (policy.update) {
      this.logger.info({ ...fields, requiredOsVersion: policy.update.details.OSVersion, requiredBuildVersion: policy.update.details.BuildVersion }, 'software update required before enrollment');

      return { status: 403, body: JSON.stringify(policy.update), contentType: 'application/json' };
    }

    const profile = await this.profiles.issue();
    if (policy.unavailable) {
      this.logger.warn({ ...fields, reason: policy.unavailable }, 'enrollment profile issued without the enrollment policy');
    } else {
      this.logger.info(fields, 'enrollment profile issued for MachineInfo');
    }

    return { status: 200, body: profile, contentType: 'application/x-apple-aspen-config' };
  }

  /**
   * Asks provisioning whether this device must update first. When it cannot say, the device
   * enrolls: a missed update is fixed at the next cycle, a device stuck in Setup Assistant is not.
   */
  private async policyFor(info: MachineInfo): Promise<PolicyOutcome> {
    let reply;
    try {
      reply = await this.bus.request(
        CheckEnrollmentPolicy,
        {
          udid: info.udid,
          serialNumber: info.serial,
          product: info.product,
          osVersion: info.osVersion,
          buildVersion: info.version,
          supplementalOsVersionExtra: info.supplementalOsVersionExtra,
        },
        { subject: info.udid, timeoutMs: this.settings.requestTimeoutMs },
      );
    } catch (error) {
      return { unavailable: `provisioning did not answer: ${messageOf(error)}` };
    }
    if (reply.action !== 'update') {
      return {};
    }
    if (!reply.osVersion) {
      return { unavailable: 'provisioning asked for an update without a target OS version' };
    }
    try {
      return { update: buildSoftwareUpdateRequired({ osVersion: reply.osVersion, buildVersion: reply.buildVersion, message: reply.message }) };
    } catch (error) {
      return { unavailable: `provisioning asked for an unusable update target: ${messageOf(error)}` };
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
