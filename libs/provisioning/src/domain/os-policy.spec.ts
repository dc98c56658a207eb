import {
  compareOsVersions,
  decideEnrollment,
  isUnsupportedProduct,
  parseOsVersion,
  readOsPolicy,
  type OsPolicy,
} from './os-policy.js';
import { ProvisioningError } from './provisioning.errors.js';

function policy(overrides: Partial<OsPolicy> = {}): OsPolicy {
  return { minimumVersion: '26.2', whenUnsupported: 'allow', ...overrides };
}

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('CONFIGURATION.INVALID', message);
}

describe('parseOsVersion', () => {
  it.each<[string, ReturnType<typeof parseOsVersion>]>([
    ['26', { parts: [26] }],
    ['26.2', { parts: [26, 2] }],
    ['26.2.1', { parts: [26, 2, 1] }],
    ['26.1 (a)', { parts: [26, 1], supplemental: 'a' }],
  ])('reads %s', (text, parsed) => {
    expect(parseOsVersion(text)).toEqual(parsed);
  });

  it.each([
    '',
    '26.',
    '.2',
    '26.2.1.4',
    '26.1(a)',
    '26.1 (A)',
    '26.1 (ab)',
    'iOS 26',
    ' 26.2',
    '26.x',
  ])('refuses %j', (text) => {
    expect(parseOsVersion(text)).toBeNull();
  });

  it('refuses non-strings and parts beyond safe integers', () => {
    expect(parseOsVersion(26.2)).toBeNull();
    expect(parseOsVersion(undefined)).toBeNull();
    expect(parseOsVersion('99999999999999999999.1')).toBeNull();
  });
});

describe('compareOsVersions', () => {
  it.each<[string, string, -1 | 0 | 1]>([
    ['26.10', '26.9', 1],
    ['26.9', '26.10', -1],
    ['26.2', '26.2.0', 0],
    ['26', '26.0.0', 0],
    ['26.2.1', '26.2', 1],
    ['27', '26.9.9', 1],
    ['26.1 (a)', '26.1', 1],
    ['26.1', '26.1 (a)', -1],
    ['26.1 (a)', '26.1 (b)', -1],
    ['26.1 (b)', '26.1.0 (b)', 0],
    ['26.1 (b)', '26.1.1', -1],
    ['26.1.1', '26.1 (c)', 1],
  ])('orders %s against %s as %d', (a, b, order) => {
    expect(compareOsVersions(a, b)).toBe(order);
  });

  it('gives null, not an order, when either side is not a version', () => {
    expect(compareOsVersions('26.2', 'latest')).toBeNull();
    expect(compareOsVersions('26.1(a)', '26.1')).toBeNull();
  });
});

describe('readOsPolicy', () => {
  it('means no policy when the input has none', () => {
    expect(readOsPolicy(undefined)).toBeNull();
    expect(readOsPolicy(null)).toBeNull();
  });

  it('reads a full policy, dropping repeated products', () => {
    expect(
      readOsPolicy({
        minimumVersion: '26.1 (a)',
        buildVersion: '23B85a',
        unsupportedProducts: ['iPad7,5', 'iPad6,', 'iPad7,5'],
        whenUnsupported: 'block',
      }),
    ).toEqual({
      minimumVersion: '26.1 (a)',
      buildVersion: '23B85a',
      unsupportedProducts: ['iPad7,5', 'iPad6,'],
      whenUnsupported: 'block',
    });
  });

  it('lets unsupported hardware enroll unless the policy says block', () => {
    expect(readOsPolicy({ minimumVersion: '26', unsupportedProducts: [] })).toEqual({
      minimumVersion: '26',
      whenUnsupported: 'allow',
    });
  });

  it.each<[unknown, string]>([
    ['26.2', 'osPolicy must be an object with minimumVersion'],
    [[], 'osPolicy must be an object with minimumVersion'],
    [
      { minimumVersoin: '26.2' },
      'osPolicy has unknown keys minimumVersoin; known: minimumVersion, buildVersion, unsupportedProducts, whenUnsupported',
    ],
    [{}, 'osPolicy.minimumVersion must be a version such as "26", "26.2", "26.2.1" or "26.1 (a)"'],
    [
      { minimumVersion: 26.1 },
      'osPolicy.minimumVersion must be a string such as "26.2": as a number, 26.10 would read as 26.1',
    ],
    [
      { minimumVersion: 'iOS 26.2' },
      'osPolicy.minimumVersion must be a version such as "26", "26.2", "26.2.1" or "26.1 (a)"',
    ],
    [
      { minimumVersion: '26.2', buildVersion: '26.2' },
      'osPolicy.buildVersion must be a build such as "23E100"',
    ],
    [
      { minimumVersion: '26.2', unsupportedProducts: 'iPad7,5' },
      'osPolicy.unsupportedProducts must be an array of product types such as "iPad7,5" or "iPad7,"',
    ],
    [
      { minimumVersion: '26.2', unsupportedProducts: ['iPad7'] },
      'osPolicy.unsupportedProducts[0] must be a product type such as "iPad7,5", or a family prefix ending in a comma such as "iPad7,"',
    ],
    [
      { minimumVersion: '26.2', whenUnsupported: 'deny' },
      'osPolicy.whenUnsupported must be "allow" or "block"',
    ],
  ])('refuses %j with a message naming the field', (input, message) => {
    expect(() => readOsPolicy(input)).toThrow(invalid(message));
  });
});

describe('isUnsupportedProduct', () => {
  const listed = policy({ unsupportedProducts: ['iPad7,5', 'iPad6,'] });

  it('matches an exact product type and any member of a listed family', () => {
    expect(isUnsupportedProduct(listed, 'iPad7,5')).toBe(true);
    expect(isUnsupportedProduct(listed, 'ipad7,5')).toBe(true);
    expect(isUnsupportedProduct(listed, 'iPad6,11')).toBe(true);
  });

  it('does not match neighbours of an exact entry or a longer family number', () => {
    expect(isUnsupportedProduct(listed, 'iPad7,6')).toBe(false);
    expect(isUnsupportedProduct(listed, 'iPad7,55')).toBe(false);
    expect(isUnsupportedProduct(listed, 'iPad16,1')).toBe(false);
    expect(isUnsupportedProduct(listed, undefined)).toBe(false);
  });
});

describe('decideEnrollment', () => {
  it('enrolls every device when the configuration has no policy', () => {
    expect(decideEnrollment(null, { osVersion: '17.0' })).toEqual({ action: 'enroll' });
  });

  it('enrolls a device at or above the minimum', () => {
    expect(decideEnrollment(policy(), { osVersion: '26.2' })).toEqual({ action: 'enroll' });
    expect(decideEnrollment(policy(), { osVersion: '26.2.0' })).toEqual({ action: 'enroll' });
    expect(decideEnrollment(policy(), { osVersion: '26.10' })).toEqual({ action: 'enroll' });
  });

  it('asks an older device to update to the minimum, with the build when the policy has one', () => {
    expect(decideEnrollment(policy({ buildVersion: '23C55' }), { osVersion: '26.1' })).toEqual({
      action: 'update',
      osVersion: '26.2',
      buildVersion: '23C55',
      reason: '26.1 is older than the minimum 26.2',
    });
    expect(decideEnrollment(policy(), { osVersion: '26.1.9' })).toEqual({
      action: 'update',
      osVersion: '26.2',
      reason: '26.1.9 is older than the minimum 26.2',
    });
  });

  it('counts the supplemental suffix MachineInfo sends apart from the version', () => {
    const rsr = policy({ minimumVersion: '26.1 (a)' });

    expect(decideEnrollment(rsr, { osVersion: '26.1' })).toMatchObject({ action: 'update' });
    expect(decideEnrollment(rsr, { osVersion: '26.1', supplementalOsVersionExtra: '(a)' })).toEqual(
      { action: 'enroll' },
    );
    expect(decideEnrollment(rsr, { osVersion: '26.1 (b)' })).toEqual({ action: 'enroll' });
  });

  it('never asks unsupported hardware to update; it enrolls on its OS under allow', () => {
    const allow = policy({ unsupportedProducts: ['iPad7,'] });

    expect(decideEnrollment(allow, { product: 'iPad7,5', osVersion: '18.7' })).toEqual({
      action: 'enroll',
      unsupported: true,
      reason: 'iPad7,5 cannot run 26.2; it enrolls on 18.7',
    });
  });

  it('blocks unsupported hardware under block, even when its version is unknown', () => {
    const block = policy({ unsupportedProducts: ['iPad7,5'], whenUnsupported: 'block' });

    expect(decideEnrollment(block, { product: 'iPad7,5', osVersion: '18.7' })).toEqual({
      action: 'block',
      reason:
        'iPad7,5 cannot run 26.2 (it runs 18.7) and the configuration blocks unsupported hardware',
    });
    expect(decideEnrollment(block, { product: 'iPad7,5' })).toMatchObject({ action: 'block' });
  });

  it('enrolls listed hardware that already runs the minimum: the list was too broad', () => {
    const block = policy({ unsupportedProducts: ['iPad7,'], whenUnsupported: 'block' });

    expect(decideEnrollment(block, { product: 'iPad7,5', osVersion: '26.2' })).toEqual({
      action: 'enroll',
    });
  });

  it('enrolls with a reason when the device version is missing or unreadable', () => {
    expect(decideEnrollment(policy(), { product: 'iPad13,1' })).toEqual({
      action: 'enroll',
      reason: 'the device did not report its OS version; the 26.2 minimum is not checked',
    });
    expect(decideEnrollment(policy(), { osVersion: '26.2 beta' })).toEqual({
      action: 'enroll',
      reason: 'the OS version "26.2 beta" is unreadable; the 26.2 minimum is not checked',
    });
  });

  it('does not trust a stored policy whose minimum cannot be read', () => {
    expect(
      decideEnrollment(policy({ minimumVersion: 'latest' }), { osVersion: '17.0' }),
    ).toMatchObject({ action: 'enroll', reason: 'the policy minimum latest is unreadable' });
  });
});
