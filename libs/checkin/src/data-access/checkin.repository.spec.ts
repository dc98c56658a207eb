import { onEachDatabase } from '@turnaround/testing';

import { DeviceEntity, EnrollmentEntity, IdentityEntity } from './checkin.entities.js';
import { CheckinRepository, IdentityConflictError, NotAuthenticatedError, TokenUpdateInput, TokenUpdateOutcome } from './checkin.repository.js';
import { CHECKIN_SCHEMA } from './migrations/checkin.schema.js';

/** The check-in writes as rows: each enrollment change stores what it changed and nothing else. */
describe('the check-in repository', () => {
  onEachDatabase(CHECKIN_SCHEMA, (database) => {
    let repository: CheckinRepository;
    let serial = 0;

    beforeAll(() => {
      repository = new CheckinRepository(database.dataSource);
    });

    function names(): { udid: string; fingerprint: string } {
      serial += 1;

      return { udid: `UDID-REPO-${serial}`, fingerprint: `FP-REPO-${serial}` };
    }

    function tokenUpdate(udid: string, fingerprint: string, extra: Partial<TokenUpdateInput> = {}): Promise<TokenUpdateOutcome> {
      return repository.tokenUpdate({ udid, fingerprint, topic: 'com.apple.mgmt.test', awaitingConfiguration: false, pushToken: 'dG9rZW4x', pushMagic: 'magic-1', ...extra });
    }

    const enrollment = (id: string) => database.dataSource.getRepository(EnrollmentEntity).findOneByOrFail({ id });
    const device = (udid: string) => database.dataSource.getRepository(DeviceEntity).findOneByOrFail({ udid });
    const identity = (fingerprint: string) => database.dataSource.getRepository(IdentityEntity).findOneByOrFail({ fingerprint });

    it('enrolls on the first TokenUpdate and binds identity and device to the enrollment', async () => {
      const { udid, fingerprint } = names();
      await repository.authenticate(fingerprint, 'CN=device', { udid, serialNumber: 'SERIAL-1', productName: 'iPad16,3', osVersion: '26.1' }, false);

      const outcome = await tokenUpdate(udid, fingerprint);

      expect(outcome).toMatchObject({ meaning: 'fresh', previousEnrollmentId: null, device: { productName: 'iPad16,3', serialNumber: 'SERIAL-1', osVersion: '26.1' } });
      expect(await enrollment(outcome.enrollment.id)).toMatchObject({ udid, status: 'active', pushToken: 'dG9rZW4x', pushMagic: 'magic-1', topic: 'com.apple.mgmt.test', userEnrollment: false });
      expect((await identity(fingerprint)).enrollmentId).toBe(outcome.enrollment.id);
      expect((await device(udid)).currentEnrollmentId).toBe(outcome.enrollment.id);
    });

    it('stores a repeated TokenUpdate’s new push token on the same enrollment, and keeps what it leaves out', async () => {
      const { udid, fingerprint } = names();
      await repository.authenticate(fingerprint, null, { udid }, false);
      const first = await tokenUpdate(udid, fingerprint);

      const again = await tokenUpdate(udid, fingerprint, { pushToken: 'dG9rZW4y', pushMagic: undefined });

      expect(again).toMatchObject({ meaning: 'repeat', enrollment: { id: first.enrollment.id }, previousEnrollmentId: null });
      expect(await enrollment(first.enrollment.id)).toMatchObject({ status: 'active', pushToken: 'dG9rZW4y', pushMagic: 'magic-1' });
    });

    it('supersedes the enrollment when the device comes back in Setup Assistant', async () => {
      const { udid, fingerprint } = names();
      await repository.authenticate(fingerprint, null, { udid }, false);
      const first = await tokenUpdate(udid, fingerprint);
      const next = `${fingerprint}-after-erase`;
      await repository.authenticate(next, null, { udid }, false);

      const fresh = await tokenUpdate(udid, next, { awaitingConfiguration: true });

      expect(fresh).toMatchObject({ meaning: 'fresh', previousEnrollmentId: first.enrollment.id });
      expect(fresh.enrollment.id).not.toBe(first.enrollment.id);
      expect((await enrollment(first.enrollment.id)).status).toBe('superseded');
      expect(await enrollment(fresh.enrollment.id)).toMatchObject({ status: 'active', awaitingConfiguration: true });
      expect((await device(udid)).currentEnrollmentId).toBe(fresh.enrollment.id);
      expect((await identity(next)).enrollmentId).toBe(fresh.enrollment.id);
    });

    it('keeps the enrollment for a renewed identity outside Setup Assistant', async () => {
      const { udid, fingerprint } = names();
      await repository.authenticate(fingerprint, null, { udid }, false);
      const first = await tokenUpdate(udid, fingerprint);
      const renewed = `${fingerprint}-renewed`;
      await repository.authenticate(renewed, null, { udid }, false);

      const outcome = await tokenUpdate(udid, renewed);

      expect(outcome).toMatchObject({ meaning: 'renewal', enrollment: { id: first.enrollment.id } });
      expect((await identity(renewed)).enrollmentId).toBe(first.enrollment.id);
    });

    it('refuses a TokenUpdate of an identity that never authenticated, or of another device’s identity', async () => {
      const { udid, fingerprint } = names();
      const other = names();
      await repository.authenticate(other.fingerprint, null, { udid: other.udid }, false);

      await expect(tokenUpdate(udid, fingerprint)).rejects.toBeInstanceOf(NotAuthenticatedError);
      await expect(tokenUpdate(udid, other.fingerprint)).rejects.toBeInstanceOf(IdentityConflictError);
      expect(await database.dataSource.getRepository(DeviceEntity).findOneBy({ udid })).toBeNull();
    });

    it('updates the device facts an Authenticate brings and keeps those it does not', async () => {
      const { udid, fingerprint } = names();
      await repository.authenticate(fingerprint, null, { udid, serialNumber: 'SERIAL-2', productName: 'iPhone17,1', osVersion: '26.0', buildVersion: '23A1' }, false);

      await repository.authenticate(fingerprint, null, { udid, osVersion: '26.1' }, false);

      expect(await device(udid)).toMatchObject({ serialNumber: 'SERIAL-2', productName: 'iPhone17,1', osVersion: '26.1', buildVersion: '23A1' });
    });
  });
});
