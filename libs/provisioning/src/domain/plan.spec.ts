import { readPlan } from './plan.js';
import { ProvisioningError } from './provisioning.errors.js';

describe('readPlan', () => {
  it('accepts profiles and apps, and an absent plan as empty', () => {
    expect(readPlan(undefined)).toEqual({ profiles: [], apps: [] });
    expect(readPlan({ profiles: [{ name: 'Restrictions', payload: 'PD94' }], apps: [{ identifier: 'com.example.app' }, { iTunesStoreID: 1 }] })).toEqual({
      profiles: [{ name: 'Restrictions', payload: 'PD94' }],
      apps: [{ identifier: 'com.example.app' }, { iTunesStoreID: 1 }],
    });
  });

  it('coerces a numeric store id sent as digits, predictably (B03 e)', () => {
    expect(readPlan({ apps: [{ iTunesStoreID: '42' }] }).apps).toEqual([{ iTunesStoreID: 42 }]);
  });

  it.each([
    [{ apps: [{ iTunesStoreID: 'forty-two' }] }, 'plan.apps[0].iTunesStoreID must be a positive integer'],
    [{ apps: [{}] }, 'plan.apps[0] needs exactly one of iTunesStoreID, identifier or manifestURL'],
    [{ apps: [{ identifier: 'com.example.app', iTunesStoreID: 1 }] }, 'plan.apps[0] needs exactly one of iTunesStoreID, identifier or manifestURL'],
    [{ apps: [{ manifestURL: 'http://insecure.example.test/m.plist' }] }, 'plan.apps[0].manifestURL must be an https URL'],
    [{ profiles: [{ name: 'x' }] }, 'plan.profiles[0] needs a name and a base64 payload'],
    [[], 'plan must be an object with profiles and apps'],
  ])('refuses %j with a message naming the field', (input, message) => {
    expect(() => readPlan(input)).toThrow(new ProvisioningError('CONFIGURATION.INVALID', message));
  });
});
