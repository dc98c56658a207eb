import { meaningOfTokenUpdate, platformOf } from './enrollment-rules.js';

describe('meaningOfTokenUpdate', () => {
  it('reads a first TokenUpdate of a new device as a fresh enrollment', () => {
    expect(meaningOfTokenUpdate({ identityEnrollmentId: null, currentEnrollmentId: null, awaitingConfiguration: false })).toBe('fresh');
  });

  it('reads AwaitingConfiguration true as a fresh enrollment even for a known device (B06)', () => {
    expect(meaningOfTokenUpdate({ identityEnrollmentId: null, currentEnrollmentId: 'E1', awaitingConfiguration: true })).toBe('fresh');
  });

  it('reads a new identity joining the current enrollment without Setup Assistant as a renewal (B05 control)', () => {
    expect(meaningOfTokenUpdate({ identityEnrollmentId: null, currentEnrollmentId: 'E1', awaitingConfiguration: false })).toBe('renewal');
  });

  it('reads a TokenUpdate from an identity already enrolled as a repeat, whatever it says', () => {
    expect(meaningOfTokenUpdate({ identityEnrollmentId: 'E2', currentEnrollmentId: 'E2', awaitingConfiguration: true })).toBe('repeat');
  });
});

describe('platformOf', () => {
  it.each([
    ['iPhone17,1', 'ios'],
    ['iPad16,3', 'ipados'],
    ['AppleTV14,1', 'tvos'],
    // Vision Pro reports RealityDevice product names, never "Vision" (M2 and M5 models).
    ['RealityDevice14,1', 'visionos'],
    ['RealityDevice17,1', 'visionos'],
    ['MacBookPro18,3', 'macos'],
    [undefined, 'unknown'],
  ])('%s is %s', (productName, platform) => {
    expect(platformOf(productName)).toBe(platform);
  });
});
