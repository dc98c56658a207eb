import { inferDeviceTrigger, preservationBlocker } from './app-preservation.js';

describe('app preservation eligibility', () => {
  it('allows ADE devices on iOS, iPadOS and visionOS 26 or later', () => {
    for (const platform of ['ios', 'ipados', 'visionos']) {
      expect(preservationBlocker({ platform, osVersion: '26.0', enrolledViaAde: true })).toBeNull();
      expect(
        preservationBlocker({ platform, osVersion: '26.10.1', enrolledViaAde: true }),
      ).toBeNull();
    }
  });

  it.each([
    [
      { platform: 'tvos', osVersion: '26.1', enrolledViaAde: true },
      /tvOS has standard Return to Service only/,
    ],
    [
      { platform: 'macos', osVersion: '26.1', enrolledViaAde: true },
      /macos has standard Return to Service only/,
    ],
    [
      { platform: 'ios', osVersion: '18.7', enrolledViaAde: true },
      /needs ios 26.0 or later; the device runs 18.7/,
    ],
    [{ platform: 'ios', osVersion: null, enrolledViaAde: true }, /OS version is not known yet/],
    [
      { platform: 'ios', osVersion: '26 beta', enrolledViaAde: true },
      /OS version is not known yet/,
    ],
    [
      { platform: 'visionos', osVersion: '26.1', enrolledViaAde: false },
      /not enrolled through Automated Device Enrollment/,
    ],
    [{ platform: 'visionos', osVersion: '26.1', enrolledViaAde: null }, /is not known yet/],
  ])('refuses %j with the reason', (facts, reason) => {
    expect(preservationBlocker(facts)).toMatch(reason);
  });
});

describe('which trigger a ReturnToService check-in was', () => {
  const since = new Date('2026-12-04T10:00:00Z');

  it('is a person when no idle timeout is in force', () => {
    expect(inferDeviceTrigger(null, since, new Date('2026-12-04T12:00:00Z'))).toBe('user');
    expect(inferDeviceTrigger(0, since, new Date('2026-12-04T12:00:00Z'))).toBe('user');
  });

  it('is a person before the timeout has run out, the idle timeout after', () => {
    expect(inferDeviceTrigger(900, since, new Date('2026-12-04T10:10:00Z'))).toBe('user');
    expect(inferDeviceTrigger(900, since, new Date('2026-12-04T10:14:59.500Z'))).toBe('idle');
    expect(inferDeviceTrigger(900, since, new Date('2026-12-04T10:15:00Z'))).toBe('idle');
  });

  it('is a person when the device was never seen going into service', () => {
    expect(inferDeviceTrigger(900, null, new Date())).toBe('user');
  });
});
