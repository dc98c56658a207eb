import { Inject, Injectable } from '@nestjs/common';

import {
  AwaitConfiguration,
  DeviceAuthenticated,
  DeviceCheckedOut,
  DeviceEnrolled,
  FetchBootstrapToken,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import type { VerifiedIdentity } from '@turnaround/identity';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, DeviceReply } from '@turnaround/platform';
import {
  AuthenticateMessage,
  CheckInMessage,
  DeclarativeManagementMessage,
  encodePlistXml,
  GetBootstrapTokenMessage,
  readDeclarativeStatusReport,
  resolveChannel,
  SetBootstrapTokenMessage,
  TokenUpdateMessage,
} from '@turnaround/protocol';

import { platformOf } from '../domain/enrollment-rules.js';
import { CheckinRepository } from '../data-access/checkin.repository.js';
import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { ReturnToServiceCheckinService } from './return-to-service-checkin.service.js';

const OK: DeviceReply = { status: 200 };

export class MissingDeviceIdentifierError extends Error {
  readonly code = 'CHECKIN.MISSING_IDENTIFIER';
}

/** Answers each check-in message and tells the other services what it changed. */
@Injectable()
export class CheckinService {
  private readonly logger = createLogger('CheckinService');

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: CheckinRepository,
    private readonly returnToService: ReturnToServiceCheckinService,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  async handle(message: CheckInMessage, identity: VerifiedIdentity): Promise<DeviceReply> {
    const udid = message.udid ?? message.enrollmentId;
    if (!udid) {
      throw new MissingDeviceIdentifierError('the check-in names no UDID or EnrollmentID');
    }
    if (message.messageType === 'Authenticate') {
      return this.authenticate(message, udid, identity);
    }
    if (message.messageType === 'TokenUpdate') {
      return this.tokenUpdate(message, udid, identity);
    }
    const bound = await this.repository.requireIdentity(identity.fingerprint, udid);
    switch (message.messageType) {
      case 'CheckOut':
        return this.checkOut(udid);
      case 'SetBootstrapToken':
        return this.setBootstrapToken(message, udid);
      case 'GetBootstrapToken':
        return this.getBootstrapToken(message, udid);
      case 'ReturnToService':
        return this.returnToService.answer(udid, bound);
      case 'DeclarativeManagement':
        return this.declarativeManagement(message, udid);
      case 'UserAuthenticate':
        // Apple: 410 tells the device this server does not manage the user for this session.
        return { status: 410 };
      case 'GetToken':
        // We do not advertise com.apple.mdm.token, so no token service is known (Apple: 400).
        return { status: 400, body: 'unknown TokenServiceType', contentType: 'text/plain' };
    }
  }

  private async authenticate(message: AuthenticateMessage, udid: string, identity: VerifiedIdentity): Promise<DeviceReply> {
    const userEnrollment = !message.udid && !!message.enrollmentId;
    await this.repository.unitOfWork(async () => {
      await this.repository.authenticate(identity.fingerprint, identity.subject || null, {
        udid,
        serialNumber: message.serialNumber,
        productName: message.productName,
        osVersion: message.osVersion,
        buildVersion: message.buildVersion,
      }, userEnrollment);
      // Apple: not enrolled yet; other payloads of the profile may still fail. TokenUpdate decides.
      await this.bus.publish(
        DeviceAuthenticated,
        {
          udid,
          certificateFingerprint: identity.fingerprint,
          ...defined({ serialNumber: message.serialNumber, productName: message.productName, osVersion: message.osVersion, buildVersion: message.buildVersion }),
        },
        { subject: udid },
      );
    });
    this.logger.info({ udid, certificateFingerprint: identity.fingerprint, productName: message.productName, osVersion: message.osVersion }, 'device authenticated');

    return OK;
  }

  private async tokenUpdate(message: TokenUpdateMessage, udid: string, identity: VerifiedIdentity): Promise<DeviceReply> {
    const userKey = userChannelKey(message);
    if (userKey) {
      await this.repository.requireIdentity(identity.fingerprint, udid);
      await this.repository.userTokenUpdate(udid, userKey, Buffer.from(message.token).toString('base64'), message.pushMagic);
      this.logger.info({ udid, userChannel: true }, 'user channel token updated');

      return OK;
    }
    // The enrollment change and the events it causes commit together (transactional outbox); its
    // transaction checks the identity itself, so the commonest check-in reads it once.
    const { enrollment, meaning } = await this.repository.unitOfWork(async () => {
      const outcome = await this.repository.tokenUpdate({
        fingerprint: identity.fingerprint,
        udid,
        topic: message.topic,
        awaitingConfiguration: message.awaitingConfiguration,
        pushToken: Buffer.from(message.token).toString('base64'),
        pushMagic: message.pushMagic,
      });
      const { enrollment, device, meaning } = outcome;
      if (meaning !== 'repeat') {
        await this.bus.publish(
          DeviceEnrolled,
          {
            udid,
            enrollmentId: enrollment.id,
            ...(outcome.previousEnrollmentId ? { previousEnrollmentId: outcome.previousEnrollmentId } : {}),
            fresh: meaning === 'fresh',
            awaitingConfiguration: message.awaitingConfiguration,
            userEnrollment: enrollment.userEnrollment,
            certificateFingerprint: identity.fingerprint,
            platform: platformOf(device.productName),
            ...defined({ serialNumber: device.serialNumber ?? undefined, productName: device.productName ?? undefined, osVersion: device.osVersion ?? undefined }),
          },
          { subject: udid },
        );
      }
      if (message.awaitingConfiguration && meaning !== 'repeat') {
        await this.bus.publish(AwaitConfiguration, { udid, enrollmentId: enrollment.id }, { subject: udid });
      }

      return outcome;
    });
    const fields = { udid, enrollmentId: enrollment.id, meaning, awaitingConfiguration: message.awaitingConfiguration };
    this.logger.info(fields, meaning === 'repeat' ? 'push token updated' : 'device enrolled');

    return OK;
  }

  private async checkOut(udid: string): Promise<DeviceReply> {
    const enrollmentId = await this.repository.unitOfWork(async () => {
      const ended = await this.repository.checkOut(udid);
      if (ended) {
        await this.bus.publish(DeviceCheckedOut, { udid, enrollmentId: ended }, { subject: udid });
      }

      return ended;
    });
    this.logger.info({ udid, enrollmentId }, 'device checked out');

    return OK;
  }

  private async setBootstrapToken(message: SetBootstrapTokenMessage, udid: string): Promise<DeviceReply> {
    const change = message.bootstrapToken;
    const reply = await this.bus.request(
      StoreBootstrapToken,
      {
        udid,
        awaitingConfiguration: message.awaitingConfiguration,
        ...(change.action === 'store' ? { token: Buffer.from(change.token).toString('base64') } : {}),
      },
      { subject: udid, timeoutMs: this.settings.requestTimeoutMs },
    );
    this.logger.info({ udid, action: change.action, version: reply.version }, 'bootstrap token forwarded to escrow');

    return OK;
  }

  /**
   * Answers with the escrowed token, or with no token. Never an error: Apple documents "nothing
   * stored" as a success without the key (B10), and an unreachable escrow is treated the same way,
   * because a device that cannot get its token falls back safely while a 5xx helps nobody.
   */
  private async getBootstrapToken(message: GetBootstrapTokenMessage, udid: string): Promise<DeviceReply> {
    try {
      const reply = await this.bus.request(
        FetchBootstrapToken,
        { udid, reason: 'GetBootstrapToken check-in', requestedBy: 'checkin' },
        { subject: udid, timeoutMs: this.settings.requestTimeoutMs },
      );
      this.logger.info({ udid, found: reply.token !== undefined, awaitingConfiguration: message.awaitingConfiguration }, 'bootstrap token requested');

      return plist(reply.token ? { BootstrapToken: Buffer.from(reply.token, 'base64') } : {});
    } catch (error) {
      this.logger.error({ udid, reason: (error as Error).message }, 'escrow unavailable; answered without a token');

      return plist({});
    }
  }

  /**
   * Nothing declarative is managed yet: an empty, stable set of declarations, and every status
   * report accepted (Apple: status gets a 200 with an empty body).
   */
  private async declarativeManagement(message: DeclarativeManagementMessage, udid: string): Promise<DeviceReply> {
    const token = 'turnaround-empty-v1';
    if (message.endpoint === 'tokens') {
      return json({ SyncTokens: { DeclarationsToken: token, Timestamp: '2026-01-01T00:00:00Z' } });
    }
    if (message.endpoint === 'declaration-items') {
      return json({ Declarations: { Activations: [], Assets: [], Configurations: [], Management: [] }, DeclarationsToken: token });
    }
    if (message.endpoint === 'status') {
      const report = readDeclarativeStatusReport(message.data ?? new Uint8Array());
      const level = report.errors.length > 0 ? 'warn' : 'debug';
      this.logger[level]({ udid, errors: report.errors.map((error) => error.path) }, 'declarative status report');

      return OK;
    }
    // A declaration we never announced: 404 makes the device drop it (Apple).
    return { status: 404 };
  }
}

function plist(value: Parameters<typeof encodePlistXml>[0]): DeviceReply {
  return { status: 200, body: encodePlistXml(value), contentType: 'application/xml' };
}

function json(value: unknown): DeviceReply {
  return { status: 200, body: JSON.stringify(value), contentType: 'application/json' };
}

/** The user channel a message belongs to, if any (Shared iPad users are keyed by short name, B22). */
function userChannelKey(message: CheckInMessage): string | undefined {
  const channel = resolveChannel(message);

  return channel.channel === 'user' ? channel.userKey : undefined;
}

function defined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
