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

/** The first OS version that takes EraseDevice's ReturnToService dictionary, per platform. */
export const RTS_MINIMUM_OS: Record<string, string | undefined> = {
  ios: '17.0',
  ipados: '17.0',
  tvos: '18.0',
  visionos: '26.0',
};

/** Apple's schema: no ReturnToService on macOS or watchOS. */
export const RTS_UNSUPPORTED_PLATFORMS: ReadonlySet<string> = new Set(['macos', 'watchos']);
