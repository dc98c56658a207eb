import { judgeScepChallenge, ScepChallengeRecord } from './scep-challenge-rules.js';

const NOW = new Date('2026-05-01T12:00:00Z');
const CERTIFICATE = Buffer.from('30820100', 'hex');
const use = { transactionId: 'T-1', requestHash: 'aa' };

function challenge(overrides: Partial<ScepChallengeRecord> = {}): ScepChallengeRecord {
  return {
    expiresAt: new Date(NOW.getTime() + 60_000),
    usedAt: null,
    transactionId: null,
    requestHash: null,
    certificate: null,
    ...overrides,
  };
}

function used(overrides: Partial<ScepChallengeRecord> = {}): ScepChallengeRecord {
  return challenge({
    usedAt: NOW,
    transactionId: 'T-1',
    requestHash: 'aa',
    certificate: CERTIFICATE,
    ...overrides,
  });
}

describe('judgeScepChallenge', () => {
  it('issues for a fresh challenge within its lifetime', () => {
    expect(judgeScepChallenge(challenge(), use, NOW)).toEqual({ kind: 'issue' });
  });

  it('refuses a challenge nobody issued', () => {
    expect(judgeScepChallenge(null, use, NOW)).toEqual({ kind: 'refuse', reason: 'unknown' });
  });

  it('refuses a challenge from the moment it expires', () => {
    expect(judgeScepChallenge(challenge({ expiresAt: NOW }), use, NOW)).toEqual({
      kind: 'refuse',
      reason: 'expired',
    });
  });

  it('gives the same certificate again to the same request sent again, even after expiry', () => {
    expect(judgeScepChallenge(used(), use, NOW)).toEqual({
      kind: 'reissue',
      certificate: CERTIFICATE,
    });
    expect(judgeScepChallenge(used({ expiresAt: new Date(0) }), use, NOW)).toEqual({
      kind: 'reissue',
      certificate: CERTIFICATE,
    });
  });

  it.each([
    ['another request in the same transaction', { transactionId: 'T-1', requestHash: 'bb' }],
    ['the same request in another transaction', { transactionId: 'T-2', requestHash: 'aa' }],
  ])('refuses %s once the challenge is used', (_name, other) => {
    expect(judgeScepChallenge(used(), other, NOW)).toEqual({ kind: 'refuse', reason: 'used' });
  });
});
