import { encodePlistXml } from '@turnaround/protocol';

import { ProvisioningError } from './provisioning.errors.js';
import {
  buildSessionTimeoutSettings,
  readIntegerInput,
  readTemporarySessionTimeout,
  TEMPORARY_SESSION_TIMEOUT_MAXIMUM,
} from './session-timeout.js';

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('CONFIGURATION.INVALID', message);
}

function refusal(read: () => unknown): ProvisioningError {
  try {
    read();
  } catch (error) {
    if (error instanceof ProvisioningError) return error;
    throw error;
  }
  throw new Error('expected a ProvisioningError');
}

describe('readIntegerInput', () => {
  it('reads an id sent as a number or as a string of digits the same way (B03 e)', () => {
    expect(readIntegerInput(42, 'wifiId')).toBe(42);
    expect(readIntegerInput('42', 'wifiId')).toBe(42);
    expect(readIntegerInput('0', 'wifiId')).toBe(0);
    expect(readIntegerInput('007', 'wifiId')).toBe(7);
  });

  it.each<[string, unknown]>([
    ['digits followed by letters', '42a'],
    ['a fraction', 4.2],
    ['a fraction as text', '4.2'],
    ['a negative number', -1],
    ['a negative number as text', '-1'],
    ['an empty string', ''],
    ['digits with spaces', ' 42'],
    ['an exponent', '1e3'],
    ['a hexadecimal string', '0x2A'],
    ['a boolean', true],
    ['null', null],
    ['NaN', Number.NaN],
    ['an integer beyond 2^53', 2 ** 53],
    ['digits beyond 2^53', '9007199254740993'],
    ['an array', [42]],
  ])('refuses %s, naming the field', (_, value) => {
    expect(() => readIntegerInput(value, 'wifiId')).toThrow(
      invalid(
        'wifiId must be a whole number of 0 or more, as a number (42) or a string of digits ("42")',
      ),
    );
  });
});

describe('readTemporarySessionTimeout', () => {
  it('leaves the timeout unmanaged when the input has none', () => {
    expect(readTemporarySessionTimeout(undefined)).toBeNull();
    expect(readTemporarySessionTimeout(null)).toBeNull();
  });

  it('keeps 0, which removes the device timeout, apart from "not managed" (B07)', () => {
    expect(readTemporarySessionTimeout(0)).toBe(0);
    expect(readTemporarySessionTimeout('0')).toBe(0);
    expect(Object.is(readTemporarySessionTimeout(-0), 0)).toBe(true);
  });

  it('accepts Apple minimum, a typical value and our one-day maximum', () => {
    expect(readTemporarySessionTimeout(30)).toBe(30);
    expect(readTemporarySessionTimeout(900)).toBe(900);
    expect(readTemporarySessionTimeout('900')).toBe(900);
    expect(readTemporarySessionTimeout(TEMPORARY_SESSION_TIMEOUT_MAXIMUM)).toBe(86_400);
  });

  it.each([-5, '-5', 1, 29])('refuses %j, naming Apple minimum of 30 seconds (B07)', (value) => {
    expect(() => readTemporarySessionTimeout(value)).toThrow(
      invalid(
        "temporarySessionTimeout must be 0 (no idle timeout) or at least 30 seconds, Apple's minimum",
      ),
    );
  });

  it('refuses more than a day, pointing at the milliseconds mistake', () => {
    expect(refusal(() => readTemporarySessionTimeout(900_000)).message).toBe(
      'temporarySessionTimeout must be at most 86400 seconds (one day); ' +
        'the value is in seconds, not milliseconds',
    );
    expect(() => readTemporarySessionTimeout(86_401)).toThrow(ProvisioningError);
  });

  it.each<[string, unknown]>([
    ['a fraction', 90.5],
    ['text', '15 minutes'],
    ['a boolean', false],
    ['an object', { seconds: 900 }],
  ])('refuses %s as not a whole number of seconds', (_, value) => {
    expect(() => readTemporarySessionTimeout(value, 'idleTimeout')).toThrow(
      invalid('idleTimeout must be a whole number of seconds (0 turns the idle timeout off)'),
    );
  });

  it('reports its refusals with the stable code the admin API maps to 400', () => {
    expect(refusal(() => readTemporarySessionTimeout(-5)).code).toBe('CONFIGURATION.INVALID');
  });
});

describe('buildSessionTimeoutSettings', () => {
  it('builds the Settings command of the protocol digest for 900 seconds', () => {
    const command = buildSessionTimeoutSettings(900);

    expect(command).toEqual({
      RequestType: 'Settings',
      Settings: [{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }],
    });
    expect(encodePlistXml(command).toString('utf8')).toMatch(
      /<key>TemporarySessionTimeout<\/key>\s*<integer>900<\/integer>/,
    );
  });

  it('passes 0 through as an integer: the device then has no idle timeout', () => {
    expect(encodePlistXml(buildSessionTimeoutSettings(0)).toString('utf8')).toMatch(
      /<key>TemporarySessionTimeout<\/key>\s*<integer>0<\/integer>/,
    );
  });

  it.each([-5, 10, 90.5, 86_401, Number.NaN])('refuses %p before any command is built', (value) => {
    expect(() => buildSessionTimeoutSettings(value)).toThrow(ProvisioningError);
  });
});
