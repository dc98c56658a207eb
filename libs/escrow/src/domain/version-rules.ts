/** A device's versions of one secret as the store rules need them. */
export interface VersionHead {
  /** The version in force, if any. */
  current: { version: number } | null;
  /** The highest version ever given to the device, retired or not; 0 when none. */
  lastVersion: number;
}

export type ReplacePlan =
  | { action: 'escrow'; version: number; retires: number | null }
  | { action: 'repeat'; version: number };

export type RemovePlan = { action: 'clear'; retires: number } | { action: 'nothing-to-clear' };

/**
 * A non-empty SetBootstrapToken (B09a) or a new bypass code: a new version that retires the one
 * in force, unless `repeatsCurrent` says it is the secret in force again. Devices repeat
 * themselves, and a repeat must not look like a change. Version numbers are never reused, so a
 * number names one secret for good.
 */
export function planReplace(head: VersionHead, repeatsCurrent: boolean): ReplacePlan {
  if (head.current && repeatsCurrent) {
    return { action: 'repeat', version: head.current.version };
  }

  return {
    action: 'escrow',
    version: head.lastVersion + 1,
    retires: head.current?.version ?? null,
  };
}

/** A missing or empty SetBootstrapToken (B09b, B09c): retire the version in force, if any. */
export function planRemove(head: Pick<VersionHead, 'current'>): RemovePlan {
  return head.current
    ? { action: 'clear', retires: head.current.version }
    : { action: 'nothing-to-clear' };
}

/**
 * Apple's schema: a missing or zero-length BootstrapToken means "remove the stored token". A
 * `<data/>` element arrives as an empty string, which must not be mistaken for "keep".
 * Returns null for "remove".
 */
export function decodeIncomingToken(base64: string | undefined): Buffer | null {
  if (base64 === undefined) {
    return null;
  }
  const token = Buffer.from(base64, 'base64');

  return token.length === 0 ? null : token;
}
