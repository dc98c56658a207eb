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
      const identity = await this.gate.findOneBy(IdentityEntity, { fingerprint });
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
    const identity = await this.gate.findOneBy(IdentityEntity, { fingerprint });

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

  /**
   * Writes only the columns a TokenUpdate changes, by key: `save` would read each row back first,
   * and a TokenUpdate comes with every push token change of every device.
   */
  async tokenUpdate(input: TokenUpdateInput): Promise<TokenUpdateOutcome> {
    return this.gate.transaction(async (manager) => {
      const identity = await this.gate.findOneBy(IdentityEntity, { fingerprint: input.fingerprint });
      if (!identity) {
        throw new NotAuthenticatedError();
      }
      if (identity.udid !== input.udid) {
        throw new IdentityConflictError();
      }
      const now = new Date();
      const device = await this.upsertDevice(manager, { udid: input.udid }, now);
      const previousEnrollmentId = device.currentEnrollmentId;
      const meaning = meaningOfTokenUpdate({
        identityEnrollmentId: identity.enrollmentId,
        currentEnrollmentId: previousEnrollmentId,
        awaitingConfiguration: input.awaitingConfiguration,
      });
      const pushCredentials = {
        ...(input.pushToken !== undefined ? { pushToken: input.pushToken } : {}),
        ...(input.pushMagic !== undefined ? { pushMagic: input.pushMagic } : {}),
      };
      let enrollmentId: string;
      if (meaning === 'fresh') {
        if (previousEnrollmentId) {
          await manager.update(EnrollmentEntity, { id: previousEnrollmentId }, { status: 'superseded', updatedAt: now });
        }
        enrollmentId = randomUUID();
        await manager.insert(EnrollmentEntity, {
          id: enrollmentId,
          udid: input.udid,
          status: 'active',
          userEnrollment: identity.userEnrollment,
          awaitingConfiguration: input.awaitingConfiguration,
          topic: input.topic,
          pushToken: input.pushToken ?? null,
          pushMagic: input.pushMagic ?? null,
          createdAt: now,
          updatedAt: now,
        });
      } else {
        enrollmentId = meaning === 'repeat' ? identity.enrollmentId! : previousEnrollmentId!;
        const updated = await this.gate.updateBy(
          EnrollmentEntity,
          { id: enrollmentId },
          { awaitingConfiguration: input.awaitingConfiguration, topic: input.topic, status: 'active', ...pushCredentials, updatedAt: now },
        );
        if (updated !== 1) {
          throw new Error(`enrollment ${enrollmentId} of ${input.udid} is gone`);
        }
      }
      if (identity.enrollmentId !== enrollmentId) {
        await this.gate.updateBy(IdentityEntity, { fingerprint: input.fingerprint }, { enrollmentId });
      }
      if (device.currentEnrollmentId !== enrollmentId) {
        await this.gate.updateBy(DeviceEntity, { udid: input.udid }, { currentEnrollmentId: enrollmentId, updatedAt: now });
      }

      return {
        meaning,
        // The identity's flag is the enrollment's: both come from the same Authenticate.
        enrollment: { id: enrollmentId, userEnrollment: identity.userEnrollment },
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

  /** The device row with `facts` applied: inserted when new, else only changed columns written. */
  private async upsertDevice(manager: EntityManager, facts: DeviceFacts, now = new Date()): Promise<DeviceEntity> {
    const known = {
      ...(facts.serialNumber !== undefined ? { serialNumber: facts.serialNumber } : {}),
      ...(facts.productName !== undefined ? { productName: facts.productName } : {}),
      ...(facts.osVersion !== undefined ? { osVersion: facts.osVersion } : {}),
      ...(facts.buildVersion !== undefined ? { buildVersion: facts.buildVersion } : {}),
    };
    const existing = await this.gate.findOneBy(DeviceEntity, { udid: facts.udid });
    if (!existing) {
      const device = manager.create(DeviceEntity, {
        udid: facts.udid,
        serialNumber: null,
        productName: null,
        osVersion: null,
        buildVersion: null,
        currentEnrollmentId: null,
        ...known,
        updatedAt: now,
      });
      await manager.insert(DeviceEntity, device);

      return device;
    }
    const changed = Object.entries(known).some(([key, value]) => existing[key as keyof typeof known] !== value);
    if (changed) {
      await this.gate.updateBy(DeviceEntity, { udid: facts.udid }, { ...known, updatedAt: now });
    }

    return Object.assign(existing, known);
  }
}
