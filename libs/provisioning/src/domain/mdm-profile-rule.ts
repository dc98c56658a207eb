/**
 * Apple's three cases in which EraseDevice must carry MDMProfileData, because the device cannot
 * re-enroll by itself after the erase (B01): it was not enrolled through Automated Device
 * Enrollment; its ADE profile sends the user through `configuration_web_url`; or its ADE `url`
 * asks for HTTP authentication. A device whose ADE status is unknown is treated as not ADE: an
 * unneeded profile costs nothing, a missing one strands the device in Setup Assistant.
 */
export interface AdeAssignment {
  configurationWebUrl?: string;
  urlRequiresAuthentication?: boolean;
}

export type MdmProfileNeed =
  | { required: false }
  | { required: true; because: 'not-ade' | 'ade-unknown' | 'configuration-web-url' | 'authenticated-url' };

export function mdmProfileNeed(enrolledViaAde: boolean | null, ade: AdeAssignment | null): MdmProfileNeed {
  if (enrolledViaAde === false) {
    return { required: true, because: 'not-ade' };
  }
  if (enrolledViaAde === null) {
    return { required: true, because: 'ade-unknown' };
  }
  if (ade?.configurationWebUrl) {
    return { required: true, because: 'configuration-web-url' };
  }
  if (ade?.urlRequiresAuthentication) {
    return { required: true, because: 'authenticated-url' };
  }

  return { required: false };
}

/** Compares dotted OS versions by numeric component ("17.10" is after "17.9"). */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const right = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) {
      return Math.sign(diff);
    }
  }

  return 0;
}

/** The first OS version that takes EraseDevice's ReturnToService dictionary, per platform. */
export const RTS_MINIMUM_OS: Record<string, string | undefined> = {
  ios: '17.0',
  ipados: '17.0',
  tvos: '18.0',
  visionos: '26.0',
};

/** Apple's schema: no ReturnToService on macOS or watchOS. */
export const RTS_UNSUPPORTED_PLATFORMS: ReadonlySet<string> = new Set(['macos', 'watchos']);

/** A dotted numeric OS version ("17.4", "26.0.1"); anything else cannot be compared. */
export function isComparableVersion(version: string): boolean {
  return /^\d+(\.\d+){0,3}$/.test(version);
}
