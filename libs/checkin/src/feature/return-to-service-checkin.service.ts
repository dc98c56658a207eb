import { Inject, Injectable } from '@nestjs/common';

import { FetchBootstrapToken, PrepareDeviceReturnToService, ReturnToServiceAnswered } from '@turnaround/contracts';
import type { ReplyOf } from '@turnaround/contracts';
import { MessageBus, RemoteRequestError } from '@turnaround/messaging';
import { createLogger, DeviceReply } from '@turnaround/platform';
import { buildReturnToServiceResponse, encodePlistXml } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';

type Prepared = ReplyOf<typeof PrepareDeviceReturnToService>;

interface CycleRef {
  cycleId?: string;
  trigger?: Prepared['trigger'];
}

/** What the device is told. A decline carries its reason; `failure` marks one we did not choose. */
type Decision =
  | (CycleRef & { enabled: true; response: PlistDict; bootstrapTokenIncluded: boolean })
  | (CycleRef & { enabled: false; reason: string; failure: boolean });

const DECLINED = buildReturnToServiceResponse({ returnToService: { enabled: false } });

/**
 * Answers the ReturnToService check-in (iOS/visionOS 26, user or idle trigger, B07) with the same
 * ReturnToService dictionary provisioning would put in this device's EraseDevice, plus the
 * escrowed bootstrap token when app preservation asks for it.
 *
 * Every failure ends in `Enabled` false. Apple documents no other way to decline (protocol doc
 * §15 #9), and a 5xx or a hang only makes the device ask again; it never erases on its own.
 */

/** Provisioning's steps for the answer: escrow (1), an enrollment profile (1), Activation Lock (5). */
const PREPARE_BUDGET_FACTOR = 8;
@Injectable()
export class ReturnToServiceCheckinService {
  private readonly logger = createLogger('ReturnToServiceCheckin');

  constructor(
    private readonly bus: MessageBus,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  async answer(udid: string, enrollment: { enrollmentId: string | null; userEnrollment: boolean }): Promise<DeviceReply> {
    const { enrollmentId } = enrollment;
    if (!enrollmentId || enrollment.userEnrollment) {
      // Apple sends this check-in only for supervised ADE device enrollments; nothing to prepare.
      const reason = enrollmentId ? 'user enrollment' : 'not enrolled yet';
      this.logger.warn({ udid, enabled: false, tokenIncluded: false, reason }, 'return to service answered');

      return plist(DECLINED);
    }

    const decision = await this.report(udid, enrollmentId, await this.decide(udid, enrollmentId));
    const tokenIncluded = decision.enabled && decision.bootstrapTokenIncluded;
    const fields = { udid, enrollmentId, cycleId: decision.cycleId, trigger: decision.trigger, enabled: decision.enabled, tokenIncluded };
    if (decision.enabled) {
      this.logger.info(fields, 'return to service answered');

      return plist(decision.response);
    }
    this.logger[decision.failure ? 'warn' : 'info']({ ...fields, reason: decision.reason }, 'return to service answered');

    return plist(DECLINED);
  }

  private async decide(udid: string, enrollmentId: string): Promise<Decision> {
    let prepared: Prepared;
    try {
      // Provisioning may ask escrow, issue an enrollment profile and clear Activation Lock with
      // Apple before it can answer; the device waits for its answer meanwhile, so the budget covers
      // that whole chain (each step has its own, shorter timeout).
      prepared = await this.bus.request(PrepareDeviceReturnToService, { udid, enrollmentId }, { subject: udid, timeoutMs: this.settings.requestTimeoutMs * PREPARE_BUDGET_FACTOR });
    } catch (error) {
      return { enabled: false, reason: `provisioning did not answer: ${messageOf(error)}`, failure: true };
    }
    const cycle: CycleRef = { cycleId: prepared.cycleId, trigger: prepared.trigger };
    if (!prepared.enabled) {
      return { ...cycle, enabled: false, reason: prepared.reason ?? 'return to service is off for this device', failure: false };
    }
    if (!prepared.cycleId) {
      // Without a cycle nobody would send DeviceConfigured after the erase: the device would wait
      // in Setup Assistant for good.
      return { ...cycle, enabled: false, reason: 'provisioning enabled return to service without a cycle', failure: true };
    }

    let bootstrapToken: Buffer | undefined;
    if (prepared.attachBootstrapToken) {
      try {
        bootstrapToken = await this.escrowedToken(udid, prepared.cycleId);
      } catch (error) {
        // Erasing without the token wipes the apps the operator asked to keep (B08).
        return { ...cycle, enabled: false, reason: `escrow did not answer, so apps could not be kept: ${messageOf(error)}`, failure: true };
      }
    }

    try {
      const response = buildReturnToServiceResponse({
        returnToService: {
          enabled: true,
          wifiProfileData: bytesOf(prepared.wifiProfileData),
          mdmProfileData: bytesOf(prepared.mdmProfileData),
          bootstrapToken,
        },
        // Top level beside ReturnToService, never inside it (iOS 26.4; protocol doc §15 #10).
        ...(prepared.preserveDataPlan === true ? { preserveDataPlan: true } : {}),
      });

      return { ...cycle, enabled: true, response, bootstrapTokenIncluded: bootstrapToken !== undefined };
    } catch (error) {
      return { ...cycle, enabled: false, reason: `the prepared profiles are unusable: ${messageOf(error)}`, failure: true };
    }
  }

  /** The token, or undefined when none is escrowed: the key is then left out, never sent empty. */
  private async escrowedToken(udid: string, cycleId: string): Promise<Buffer | undefined> {
    let reply;
    try {
      reply = await this.bus.request(
        FetchBootstrapToken,
        { udid, reason: `ReturnToService check-in for cycle ${cycleId}`, requestedBy: 'checkin' },
        { subject: udid, timeoutMs: this.settings.requestTimeoutMs, correlationId: cycleId },
      );
    } catch (error) {
      if (error instanceof RemoteRequestError && error.code.startsWith('ESCROW.')) {
        // Escrow answered that its token cannot be used (its key left the ring, its seal is
        // broken): waiting will not change that, and refusing would refuse the device for good.
        this.logger.warn({ udid, cycleId, errorCode: error.code }, 'escrowed bootstrap token unusable; answered without it');

        return undefined;
      }
      throw error;
    }
    const token = bytesOf(reply.token);

    return token && token.length > 0 ? token : undefined;
  }

  /**
   * Tells provisioning what the device was told, so it moves the cycle on or fails it. The event is
   * staged in the outbox, so a broker outage only delays it; if even that write fails, an erase is
   * withdrawn: after an erase provisioning never heard of, nobody sends DeviceConfigured and the
   * device waits in Setup Assistant.
   */
  private async report(udid: string, enrollmentId: string, decision: Decision): Promise<Decision> {
    const { cycleId } = decision;
    const bootstrapTokenIncluded = decision.enabled && decision.bootstrapTokenIncluded;
    try {
      await this.bus.publish(
        ReturnToServiceAnswered,
        { udid, enrollmentId, enabled: decision.enabled, bootstrapTokenIncluded, ...(cycleId ? { cycleId } : {}) },
        { subject: udid, correlationId: cycleId },
      );

      return decision;
    } catch (error) {
      const reason = `the answer could not be reported to provisioning: ${messageOf(error)}`;

      return decision.enabled
        ? { cycleId, trigger: decision.trigger, enabled: false, reason, failure: true }
        : { ...decision, reason: `${decision.reason}; ${reason}` };
    }
  }
}

function bytesOf(base64: string | undefined): Buffer | undefined {
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64');
}

function plist(value: PlistDict): DeviceReply {
  return { status: 200, body: encodePlistXml(value), contentType: 'application/xml' };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
