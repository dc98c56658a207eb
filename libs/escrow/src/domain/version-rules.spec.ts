import { decodeIncomingToken, planRemove, planReplace, VersionHead } from './version-rules.js';

function head(current: number | null, lastVersion = current ?? 0): VersionHead {
  return { current: current === null ? null : { version: current }, lastVersion };
}

describe('planReplace', () => {
  it('gives a device its first token as version 1, retiring nothing', () => {
    expect(planReplace(head(null), false)).toEqual({
      action: 'escrow',
      version: 1,
      retires: null,
    });
  });

  it('adds a version for a different token and retires the one in force', () => {
    expect(planReplace(head(3), false)).toEqual({ action: 'escrow', version: 4, retires: 3 });
  });

  it('treats the token in force, sent again, as a repeat of its version', () => {
    expect(planReplace(head(3), true)).toEqual({ action: 'repeat', version: 3 });
  });

  it('cannot call anything a repeat when no version is in force', () => {
    expect(planReplace(head(null, 2), true)).toEqual({
      action: 'escrow',
      version: 3,
      retires: null,
    });
  });

  it('never reuses a number: after a removal the next version follows the highest ever given', () => {
    expect(planReplace(head(null, 5), false)).toEqual({
      action: 'escrow',
      version: 6,
      retires: null,
    });
  });
});

describe('planRemove', () => {
  it('retires the version in force', () => {
    expect(planRemove(head(2))).toEqual({ action: 'clear', retires: 2 });
  });

  it('has nothing to do when no version is in force', () => {
    expect(planRemove(head(null, 4))).toEqual({ action: 'nothing-to-clear' });
  });
});

describe('decodeIncomingToken', () => {
  it('reads a base64 token as its bytes', () => {
    expect(decodeIncomingToken(Buffer.from([1, 2, 3]).toString('base64'))).toEqual(
      Buffer.from([1, 2, 3]),
    );
  });

  it('reads a missing token as "remove" (B09c)', () => {
    expect(decodeIncomingToken(undefined)).toBeNull();
  });

  it('reads <data/>, an empty string, as "remove" and not as "keep" (B09b)', () => {
    expect(decodeIncomingToken('')).toBeNull();
    expect(decodeIncomingToken('=')).toBeNull();
  });
});
