import { checkFieldLimits, UnstorableFieldError } from './field-limits.js';

describe('checkFieldLimits', () => {
  it('accepts what real devices send', () => {
    expect(() => checkFieldLimits({ udid: '00008110-000A1D2E3C40801E', osVersion: '26.1', productName: 'iPad16,3', raw: {} })).not.toThrow();
  });

  it.each([
    [{ udid: 'U'.repeat(65) }, 'udid is 65 characters; at most 64 are accepted'],
    [{ osVersion: '1'.repeat(33) }, 'osVersion is 33 characters; at most 32 are accepted'],
    [{ productName: 'iPhone\u0000' }, 'productName contains a control character'],
    [{ topic: 'com.apple.mgmt.\n' }, 'topic contains a control character'],
  ])('refuses %j', (message, reason) => {
    expect(() => checkFieldLimits(message)).toThrow(new UnstorableFieldError(reason));
  });

  it('leaves fields it does not know alone', () => {
    expect(() => checkFieldLimits({ raw: { Anything: 'x'.repeat(10_000) }, token: new Uint8Array(32) })).not.toThrow();
  });
});
