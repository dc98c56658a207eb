import { unwrapCmsSignedData } from './cms.js';
import { definedOnly } from './json-access.js';
import { DictReader, requireDict } from './plist-access.js';
import { decodePlist } from './plist-codec.js';
import type { PlistDict, PlistLimits } from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';

const CODE = 'MACHINE_INFO.MALFORMED';

/**
 * The device attributes a device POSTs to the ADE profile `url` (and sends base64-encoded in the
 * `x-apple-aspen-deviceinfo` header of the `configuration_web_url` web view), per
 * other/machineinfo.yaml.
 */
export interface MachineInfo {
  udid: string;
  serial: string;
  /** Product type, e.g. `iPad4,1`. */
  product: string;
  /** The build version, e.g. `15A5278f` (not the marketing version; see `osVersion`). */
  version: string;
  /** iOS/tvOS 17, macOS 14. */
  osVersion?: string;
  supplementalBuildVersion?: string;
  supplementalOsVersionExtra?: string;
  imei?: string;
  meid?: string;
  language?: string;
  /**
   * iOS 17, macOS 14, visionOS 26. Absent means false: only a device that says true may be
   * answered with the 403 software-update-required error.
   */
  mdmCanRequestSoftwareUpdate?: boolean;
  /** iOS 17.4, macOS 14.4: the model identifier for looking up OS updates. */
  softwareUpdateDeviceId?: string;
  /** macOS 26. */
  mdmCanRequestPssoConfig?: boolean;
  /** macOS 26.1. */
  mandatorySoftwareUpdateRequired?: boolean;
  /** watchOS. */
  pairingToken?: Uint8Array;
  /** True when the bytes were a CMS SignedData envelope. Says nothing about its signature. */
  isSigned: boolean;
  /** The decoded dictionary under Apple's key names. */
  raw: PlistDict;
}

// Apple's key for each typed field, in one place so the schema spec can check every name.
export const MACHINE_INFO_KEYS = {
  udid: 'UDID',
  serial: 'SERIAL',
  product: 'PRODUCT',
  version: 'VERSION',
  osVersion: 'OS_VERSION',
  supplementalBuildVersion: 'SUPPLEMENTAL_BUILD_VERSION',
  supplementalOsVersionExtra: 'SUPPLEMENTAL_OS_VERSION_EXTRA',
  imei: 'IMEI',
  meid: 'MEID',
  language: 'LANGUAGE',
  mdmCanRequestSoftwareUpdate: 'MDM_CAN_REQUEST_SOFTWARE_UPDATE',
  softwareUpdateDeviceId: 'SOFTWARE_UPDATE_DEVICE_ID',
  mdmCanRequestPssoConfig: 'MDM_CAN_REQUEST_PSSO_CONFIG',
  mandatorySoftwareUpdateRequired: 'MANDATORY_SOFTWARE_UPDATE_REQUIRED',
  pairingToken: 'PAIRING_TOKEN',
} as const satisfies Record<Exclude<keyof MachineInfo, 'isSigned' | 'raw'>, string>;

const K = MACHINE_INFO_KEYS;

function unwrap(bytes: Uint8Array): Uint8Array {
  try {
    return unwrapCmsSignedData(bytes);
  } catch (cause) {
    throw new ProtocolError(CODE, 'MachineInfo: the CMS envelope is not readable SignedData', {
      cause,
    });
  }
}

/**
 * Reads a MachineInfo body: a CMS SignedData envelope (DER, as devices send it) around an XML or
 * binary plist, or the bare plist.
 *
 * The CMS signature is NOT verified here: nothing proves the body came from a genuine Apple
 * device until the signer chain is checked against Apple's device CA (a later issue). `isSigned`
 * only says an envelope was present, so callers can refuse bare plists by policy.
 *
 * Throws `PLIST.*` for an undecodable plist and `MACHINE_INFO.MALFORMED` for an unreadable
 * envelope, a root that is not a dictionary, a missing UDID/SERIAL/PRODUCT/VERSION, or a known key
 * of the wrong type.
 */
export function readMachineInfo(bytes: Uint8Array, limits?: Partial<PlistLimits>): MachineInfo {
  // A plist starts with `<`, whitespace, a BOM or `bplist`; DER SignedData with a SEQUENCE tag.
  const isSigned = bytes instanceof Uint8Array && bytes[0] === 0x30;
  const plistBytes = isSigned ? unwrap(bytes) : bytes;
  const raw = requireDict(decodePlist(plistBytes, limits), CODE, 'A MachineInfo body');
  const r = new DictReader(raw, CODE, 'MachineInfo');
  const required: MachineInfo = {
    udid: r.requiredString(K.udid),
    serial: r.requiredString(K.serial),
    product: r.requiredString(K.product),
    version: r.requiredString(K.version),
    isSigned,
    raw,
  };

  return definedOnly<MachineInfo>(required, {
    osVersion: r.optionalString(K.osVersion),
    supplementalBuildVersion: r.optionalString(K.supplementalBuildVersion),
    supplementalOsVersionExtra: r.optionalString(K.supplementalOsVersionExtra),
    imei: r.optionalString(K.imei),
    meid: r.optionalString(K.meid),
    language: r.optionalString(K.language),
    mdmCanRequestSoftwareUpdate: r.optionalBoolean(K.mdmCanRequestSoftwareUpdate),
    softwareUpdateDeviceId: r.optionalString(K.softwareUpdateDeviceId),
    mdmCanRequestPssoConfig: r.optionalBoolean(K.mdmCanRequestPssoConfig),
    mandatorySoftwareUpdateRequired: r.optionalBoolean(K.mandatorySoftwareUpdateRequired),
    pairingToken: r.optionalData(K.pairingToken),
  });
}
