import { CONTRACTS, createEnvelope, CycleEvents, DeviceEnrolled, readEnvelope, StoreBootstrapToken } from './index.js';
import { ContractViolation } from './schema.js';

const enrolled = {
  udid: 'UDID-A',
  enrollmentId: 'E1',
  fresh: true,
  awaitingConfiguration: true,
  userEnrollment: false,
  certificateFingerprint: 'ab',
  platform: 'ios' as const,
};

describe('contracts', () => {
  it('gives every message a unique versioned routing key', () => {
    const keys = CONTRACTS.map((contract) => contract.routingKey);

    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(key).toMatch(/^(checkin|commands|escrow|provisioning)\.[a-z-]+\.[a-z-]+\.v\d+$/);
    }
  });

  it('lists one event per RTS cycle state', () => {
    expect(CONTRACTS).toEqual(expect.arrayContaining(Object.values(CycleEvents)));
  });

  it('wraps data in a CloudEvents 1.0 envelope with the device as subject and the cycle as correlation', () => {
    const envelope = createEnvelope(DeviceEnrolled, 'checkin', enrolled, { subject: 'UDID-A', correlationId: 'C1', causationId: 'M0' });

    expect(envelope).toMatchObject({
      specversion: '1.0',
      type: 'checkin.device.enrolled.v1',
      source: 'checkin',
      subject: 'UDID-A',
      datacontenttype: 'application/json',
      correlationid: 'C1',
      causationid: 'M0',
      data: enrolled,
    });
    expect(Date.parse(envelope.time)).not.toBeNaN();
  });

  it('refuses an envelope that is not CloudEvents 1.0, or whose extensions are not strings', () => {
    const envelope = createEnvelope(DeviceEnrolled, 'checkin', enrolled, { subject: 'UDID-A' });

    expect(() => readEnvelope(DeviceEnrolled, { ...envelope, specversion: '0.3' })).toThrow(new ContractViolation('specversion', 'CloudEvents specversion 1.0'));
    expect(() => readEnvelope(DeviceEnrolled, { ...envelope, id: '' })).toThrow(new ContractViolation('id', 'non-empty string'));
    expect(() => readEnvelope(DeviceEnrolled, { ...envelope, datacontenttype: 'text/xml' })).toThrow(new ContractViolation('datacontenttype', 'application/json'));
    expect(() => readEnvelope(DeviceEnrolled, { ...envelope, correlationid: 7 })).toThrow(new ContractViolation('correlationid', 'string'));
  });

  it('refuses to build a message that breaks its contract, naming the field', () => {
    expect(() => createEnvelope(DeviceEnrolled, 'checkin', { ...enrolled, fresh: 'yes' } as never, { subject: 'UDID-A' })).toThrow(
      new ContractViolation('data.fresh', 'boolean'),
    );
  });

  it('rejects a received envelope whose data breaks the contract', () => {
    const envelope = createEnvelope(StoreBootstrapToken, 'checkin', { udid: 'U', awaitingConfiguration: false }, { subject: 'U' });

    expect(() => readEnvelope(StoreBootstrapToken, { ...envelope, data: { udid: 'U', token: 'not base64!', awaitingConfiguration: false } })).toThrow(ContractViolation);
    expect(() => readEnvelope(StoreBootstrapToken, { ...envelope, subject: 5 })).toThrow(ContractViolation);
    expect(readEnvelope(StoreBootstrapToken, envelope).data).toEqual({ udid: 'U', awaitingConfiguration: false });
  });

  it('drops unknown fields instead of passing them on', () => {
    const envelope = createEnvelope(StoreBootstrapToken, 'checkin', { udid: 'U', awaitingConfiguration: false }, { subject: 'U' });

    expect(readEnvelope(StoreBootstrapToken, { ...envelope, data: { ...envelope.data, extra: 'x' } }).data).not.toHaveProperty('extra');
  });
});
