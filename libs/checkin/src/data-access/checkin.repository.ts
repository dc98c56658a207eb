import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataGate } from '@turnaround/platform';
import { DataSource, EntityManager } from 'typeorm';

import { meaningOfTokenUpdate, TokenUpdateMeaning } from '../domain/enrollment-rules.js';
import { DeviceEntity, EnrollmentEntity, IdentityEntity, UserChannelEntity } from './checkin.entities.js';

export interface DeviceFacts {
  udid: string;
  serialNumber?: string;
  productName?: string;
  osVersion?: string;
  buildVersion?: string;
}

export interface BoundIdentity {
  fingerprint: string;
  udid: string;
  enrollmentId: string | null;
  userEnrollment: boolean;
}

export interface TokenUpdateInput {
  fingerprint: string;
  udid: string;
  topic: string;
  awaitingConfiguration: boolean;
  pushToken?: string;
  pushMagic?: string;
}

/** What a TokenUpdate settled, as plain values: entities stay in data-access. */
export interface TokenUpdateOutcome {
  meaning: TokenUpdateMeaning;
  enrollment: { id: string; userEnrollment: boolean };
  previousEnrollmentId: string | null;
  device: { productName: string | null; serialNumber: string | null; osVersion: string | null };
}

export class IdentityConflictError extends Error {
  readonly code = 'IDENTITY.BOUND_TO_OTHER_DEVICE';

  constructor() {
    super('this identity certificate belongs to another device');
  }
}

export class NotAuthenticatedError extends Error {
  readonly code = 'ENROLLMENT.NOT_AUTHENTICATED';

  constructor() {
    super('this identity has not sent Authenticate for this device');
  }
}

/** Devices, enrollments, identities and user channels; each method is one transaction. */
@Injectable()
export class CheckinRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('checkin') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }
  /** Runs `work` as one transaction: every repository call and staged event inside it commit together. */
  unitOfWork<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.transaction(() => work());
  }


  async authenticate(fingerprint: string, subject: string | null, facts: DeviceFacts, userEnrollment: boolean): Promise<void> {
    await this.gate.transaction(async (manager) => {
      const identity = await manager.findOneBy(IdentityEntity, { fingerprint });
      if (identity && identity.udid !== facts.udid) {
        throw new IdentityConflictError();
      }
      if (identity) {
        // A new Authenticate starts the enrollment over: the TokenUpdate that follows decides
        // again whether it is fresh (Setup Assistant) or the same enrollment, even when a
        // device comes back with the certificate it had before.
        await manager.update(IdentityEntity, { fingerprint }, { enrollmentId: null, boundAt: new Date() });
      } else {
        await manager.insert(IdentityEntity, {
          fingerprint,
          udid: facts.udid,
          enrollmentId: null,
          userEnrollment,
          subject,
          boundAt: new Date(),
        });
      }
      await this.upsertDevice(manager, facts);
    });
  }

  async findIdentity(fingerprint: string): Promise<BoundIdentity | null> {
    const identity = await this.gate.run(() => this.gate.repository(IdentityEntity).findOneBy({ fingerprint }));

    return identity
      ? { fingerprint, udid: identity.udid, enrollmentId: identity.enrollmentId, userEnrollment: identity.userEnrollment }
      : null;
  }

  /** Checks that a check-in's identity is the one bound to the device it names. */
  async requireIdentity(fingerprint: string, udid: string): Promise<BoundIdentity> {
    const identity = await this.findIdentity(fingerprint);
    if (!identity) {
      throw new NotAuthenticatedError();
    }
    if (identity.udid !== udid) {
      throw new IdentityConflictError();
    }

    return identity;
  }

  async tokenUpdate(input: TokenUpdateInput): Promise<TokenUpdateOutcome> {
    return this.gate.transaction(async (manager) => {
      const identity = await manager.findOneBy(IdentityEntity, { fingerprint: input.fingerprint });
      if (!identity) {
        throw new NotAuthenticatedError();
      }
      if (identity.udid !== input.udid) {
        throw new IdentityConflictError();
      }
      const device = await this.upsertDevice(manager, { udid: input.udid });
      const meaning = meaningOfTokenUpdate({
        identityEnrollmentId: identity.enrollmentId,
        currentEnrollmentId: device.currentEnrollmentId,
        awaitingConfiguration: input.awaitingConfiguration,
      });
      const now = new Date();
      const previousEnrollmentId = device.currentEnrollmentId;
      let enrollment: EnrollmentEntity | null;
      if (meaning === 'fresh') {
        if (previousEnrollmentId) {
          await manager.update(EnrollmentEntity, { id: previousEnrollmentId }, { status: 'superseded', updatedAt: now });
        }
        enrollment = manager.create(EnrollmentEntity, {
          id: randomUUID(),
          udid: input.udid,
          status: 'active',
          userEnrollment: identity.userEnrollment,
          awaitingConfiguration: input.awaitingConfiguration,
          topic: input.topic,
          pushToken: null,
          pushMagic: null,
          createdAt: now,
          updatedAt: now,
        });
        device.currentEnrollmentId = enrollment.id;
      } else {
        const enrollmentId = meaning === 'repeat' ? identity.enrollmentId! : previousEnrollmentId!;
        enrollment = await manager.findOneByOrFail(EnrollmentEntity, { id: enrollmentId });
        enrollment.awaitingConfiguration = input.awaitingConfiguration;
        enrollment.topic = input.topic;
        enrollment.status = 'active';
        device.currentEnrollmentId = enrollment.id;
      }
      enrollment.pushToken = input.pushToken ?? enrollment.pushToken;
      enrollment.pushMagic = input.pushMagic ?? enrollment.pushMagic;
      enrollment.updatedAt = now;
      await manager.save(EnrollmentEntity, enrollment);
      identity.enrollmentId = enrollment.id;
      await manager.save(IdentityEntity, identity);
      device.updatedAt = now;
      await manager.save(DeviceEntity, device);

      return {
        meaning,
        enrollment: { id: enrollment.id, userEnrollment: enrollment.userEnrollment },
        previousEnrollmentId: meaning === 'fresh' ? previousEnrollmentId : null,
        device: { productName: device.productName, serialNumber: device.serialNumber, osVersion: device.osVersion },
      };
    });
  }

  async userTokenUpdate(udid: string, userKey: string, pushToken?: string, pushMagic?: string): Promise<void> {
    await this.gate.run(() => this.gate.repository(UserChannelEntity).save({
      id: `${udid}/${userKey}`,
      udid,
      userKey,
      pushToken: pushToken ?? null,
      pushMagic: pushMagic ?? null,
      updatedAt: new Date(),
    }));
  }

  async checkOut(udid: string): Promise<string | null> {
    return this.gate.transaction(async (manager) => {
      const device = await manager.findOneBy(DeviceEntity, { udid });
      if (!device?.currentEnrollmentId) {
        return null;
      }
      const enrollmentId = device.currentEnrollmentId;
      await manager.update(EnrollmentEntity, { id: enrollmentId }, { status: 'checked-out', updatedAt: new Date() });
      device.currentEnrollmentId = null;
      device.updatedAt = new Date();
      await manager.save(DeviceEntity, device);

      return enrollmentId;
    });
  }

  private async upsertDevice(manager: EntityManager, facts: DeviceFacts): Promise<DeviceEntity> {
    const existing = await manager.findOneBy(DeviceEntity, { udid: facts.udid });
    const device =
      existing ??
      manager.create(DeviceEntity, {
        udid: facts.udid,
        serialNumber: null,
        productName: null,
        osVersion: null,
        buildVersion: null,
        currentEnrollmentId: null,
      });
    device.serialNumber = facts.serialNumber ?? device.serialNumber;
    device.productName = facts.productName ?? device.productName;
    device.osVersion = facts.osVersion ?? device.osVersion;
    device.buildVersion = facts.buildVersion ?? device.buildVersion;
    device.updatedAt = new Date();

    return manager.save(DeviceEntity, device);
  }
}
