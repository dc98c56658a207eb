import { unwrapCmsSignedData } from './cms.js';
import { DictReader, requireDict } from './plist-access.js';
import { decodePlist } from './plist-codec.js';
import { isPlistDict, type PlistDict, type PlistLimits } from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';

/** One entry of a profile's `PayloadContent`. */
export interface ProfilePayload {
  payloadType: string;
  payloadIdentifier: string;
  /** Optional because real profiles (and ProfileList results) omit it. Not checked as a UUID. */
  payloadUUID?: string;
  payloadVersion?: number;
  payloadDisplayName?: string;
  raw: PlistDict;
}

/** A parsed configuration profile; `raw` is the whole top-level dictionary. */
export interface ConfigurationProfile {
  payloadIdentifier: string;
  /** Any string; real profiles carry pseudo-UUIDs such as `…-4HOUR-…`. */
  payloadUUID: string;
  payloadType: string;
  payloadDisplayName?: string;
  payloadVersion?: number;
  payloads: ProfilePayload[];
  /** True when the profile has `EncryptedPayloadContent` instead of `PayloadContent`. */
  isEncrypted: boolean;
  /** True when the bytes were a CMS SignedData envelope (signature not verified). */
  isSigned: boolean;
  raw: PlistDict;
}

function readPayload(entry: unknown, index: number): ProfilePayload {
  if (!isPlistDict(entry)) {
    throw new ProtocolError(
      'PROFILE.MALFORMED',
      `Profile: PayloadContent[${index}] is not a dictionary`,
    );
  }

  const r = new DictReader(entry, 'PROFILE.MALFORMED', `Profile PayloadContent[${index}]`);
  const payload: ProfilePayload = {
    payloadType: r.requiredString('PayloadType'),
    payloadIdentifier: r.requiredString('PayloadIdentifier'),
    raw: entry,
  };
  const uuid = r.lenientString('PayloadUUID');
  const version = r.get('PayloadVersion');
  const displayName = r.lenientString('PayloadDisplayName');

  if (uuid !== undefined) payload.payloadUUID = uuid;
  if (typeof version === 'number') payload.payloadVersion = version;
  if (displayName !== undefined) payload.payloadDisplayName = displayName;

  return payload;
}

/**
 * Parses a configuration profile: XML, binary, or CMS-signed (DER starting with 0x30), whose
 * encapsulated content is then parsed as XML or binary.
 *
 * A CMS signature is not verified here (see {@link unwrapCmsSignedData}); `isSigned` only says
 * that an envelope was present. Throws `PLIST.*` or `PROFILE.MALFORMED` (missing
 * PayloadIdentifier/PayloadUUID/PayloadType, PayloadContent of a Configuration profile not an
 * array of dictionaries each with PayloadType and PayloadIdentifier).
 */
export function parseProfile(
  bytes: Uint8Array,
  limits?: Partial<PlistLimits>,
): ConfigurationProfile {
  const isSigned = bytes instanceof Uint8Array && bytes[0] === 0x30;
  const plistBytes = isSigned ? unwrapCmsSignedData(bytes) : bytes;
  const raw = requireDict(decodePlist(plistBytes, limits), 'PROFILE.MALFORMED', 'A profile');
  const r = new DictReader(raw, 'PROFILE.MALFORMED', 'Profile');
  const payloadType = r.requiredString('PayloadType');
  const isEncrypted = r.has('EncryptedPayloadContent');
  const content = r.get('PayloadContent');
  let payloads: ProfilePayload[] = [];

  if (payloadType === 'Configuration') {
    if (Array.isArray(content)) payloads = content.map(readPayload);
    else if (!isEncrypted) {
      throw new ProtocolError(
        'PROFILE.MALFORMED',
        'Profile: PayloadContent must be an array of payloads',
      );
    }
  }

  const profile: ConfigurationProfile = {
    payloadIdentifier: r.requiredString('PayloadIdentifier'),
    payloadUUID: r.requiredString('PayloadUUID'),
    payloadType,
    payloads,
    isEncrypted,
    isSigned,
    raw,
  };
  const displayName = r.lenientString('PayloadDisplayName');
  const version = r.get('PayloadVersion');

  if (displayName !== undefined) profile.payloadDisplayName = displayName;
  if (typeof version === 'number') profile.payloadVersion = version;

  return profile;
}

// ---------------------------------------------------------------- Wi-Fi

/** A certificate a Wi-Fi payload points at by PayloadUUID. */
export interface CertificateReference {
  uuid: string;
  /** True when a payload with that PayloadUUID is in the same profile. */
  includedInProfile: boolean;
  /** PayloadType of the referenced payload when included. */
  payloadType?: string;
}

/** The parts of EAPClientConfiguration that decide whether a join needs a person. */
export interface WifiEapInspection {
  acceptEAPTypes: number[];
  hasUserName: boolean;
  hasUserPassword: boolean;
  /** UserName and UserPassword both present and non-empty: no prompt for credentials. */
  hasStoredCredentials: boolean;
  oneTimeUserPassword?: boolean;
  /** PayloadCertificateAnchorUUID, accepted both as documented (array) and as a single string. */
  trustAnchors: CertificateReference[];
  tlsTrustedServerNames: string[];
  /** A non-empty TLSTrustedCertificates array. */
  hasTLSTrustedCertificates: boolean;
  raw: PlistDict;
}

/** The fields of a `com.apple.wifi.managed` payload that decide whether it joins unattended. */
export interface WifiPayloadInspection {
  payloadIdentifier: string;
  payloadUUID?: string;
  ssid?: string;
  hiddenNetwork?: boolean;
  autoJoin?: boolean;
  encryptionType?: string;
  /** A non-empty Password string is present. */
  hasPassword: boolean;
  isHotspot?: boolean;
  captiveBypass?: boolean;
  proxyType?: string;
  hasQoSMarkingPolicy: boolean;
  allowJoinBeforeFirstUnlock?: boolean;
  disableAssociationMACRandomization?: boolean;
  /** Hotspot 2.0 primary domain; names the network when SSID_STR is absent. */
  domainName?: string;
  /** PayloadCertificateUUID: the identity certificate for EAP-TLS. */
  identityCertificate?: CertificateReference;
  /** The EAPClientConfiguration key is present, whatever its type. */
  hasEAPClientConfiguration: boolean;
  /** Present when the payload has an EAPClientConfiguration dictionary. */
  eap?: WifiEapInspection;
  /**
   * Keys read here whose value has another type than the schema's (`IsHotspot` as a string,
   * `EAPClientConfiguration.UserName` as an integer, ...), as key paths. Such values are left out
   * of the typed fields above, so a rule that reads only those fields would not see them.
   */
  mistypedKeys: string[];
  raw: PlistDict;
}

export const WIFI_PAYLOAD_TYPE = 'com.apple.wifi.managed';

function typed<T>(value: unknown, check: (v: unknown) => v is T): T | undefined {
  return check(value) ? value : undefined;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isIntegerArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((item) => Number.isInteger(item));
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isAnchorList = (v: unknown): boolean => isString(v) || isStringArray(v);

// The schema type of each key the inspection reads (com.apple.wifi.managed.yaml).
const PAYLOAD_KEY_CHECKS: ReadonlyArray<[string, (v: unknown) => boolean]> = [
  ['SSID_STR', isString],
  ['HIDDEN_NETWORK', isBoolean],
  ['AutoJoin', isBoolean],
  ['EncryptionType', isString],
  ['Password', isString],
  ['PayloadCertificateUUID', isString],
  ['IsHotspot', isBoolean],
  ['CaptiveBypass', isBoolean],
  ['DomainName', isString],
  ['ProxyType', isString],
  ['QoSMarkingPolicy', isPlistDict],
  ['AllowJoinBeforeFirstUnlock', isBoolean],
  ['DisableAssociationMACRandomization', isBoolean],
  ['EAPClientConfiguration', isPlistDict],
];

const EAP_KEY_CHECKS: ReadonlyArray<[string, (v: unknown) => boolean]> = [
  ['AcceptEAPTypes', isIntegerArray],
  ['UserName', isString],
  ['UserPassword', isString],
  ['OneTimeUserPassword', isBoolean],
  // Documented as an array; a single string is accepted because real profiles carry one.
  ['PayloadCertificateAnchorUUID', isAnchorList],
  ['TLSTrustedServerNames', isStringArray],
  ['TLSTrustedCertificates', isArray],
];

function mistyped(
  dict: PlistDict,
  checks: ReadonlyArray<[string, (v: unknown) => boolean]>,
  prefix = '',
): string[] {
  return checks
    .filter(([key, check]) => Object.hasOwn(dict, key) && !check(dict[key]))
    .map(([key]) => `${prefix}${key}`);
}

function assign<T extends object>(target: T, values: Partial<T>): T {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }

  return target;
}

/**
 * Lists the Wi-Fi payloads of a profile with the values that matter for an unattended join
 * (Return to Service). Values are reported as found; the rules that judge them live elsewhere.
 * Mistyped values are left out of the typed fields, listed in `mistypedKeys` and kept in `raw`.
 */
export function inspectWifiPayloads(profile: ConfigurationProfile): WifiPayloadInspection[] {
  const byUuid = new Map<string, ProfilePayload>();

  for (const payload of profile.payloads) {
    if (payload.payloadUUID !== undefined) byUuid.set(payload.payloadUUID.toUpperCase(), payload);
  }

  const reference = (uuid: string): CertificateReference => {
    const target = byUuid.get(uuid.toUpperCase());

    return target === undefined
      ? { uuid, includedInProfile: false }
      : { uuid, includedInProfile: true, payloadType: target.payloadType };
  };

  return profile.payloads
    .filter((payload) => payload.payloadType === WIFI_PAYLOAD_TYPE)
    .map((payload) => {
      const raw = payload.raw;
      const password = raw['Password'];
      const eap = raw['EAPClientConfiguration'];
      const inspection = assign<WifiPayloadInspection>(
        {
          payloadIdentifier: payload.payloadIdentifier,
          hasPassword: typeof password === 'string' && password !== '',
          hasQoSMarkingPolicy: Object.hasOwn(raw, 'QoSMarkingPolicy'),
          hasEAPClientConfiguration: Object.hasOwn(raw, 'EAPClientConfiguration'),
          mistypedKeys: [
            ...mistyped(raw, PAYLOAD_KEY_CHECKS),
            ...(isPlistDict(eap) ? mistyped(eap, EAP_KEY_CHECKS, 'EAPClientConfiguration.') : []),
          ],
          raw,
        },
        {
          payloadUUID: payload.payloadUUID,
          ssid: typed(raw['SSID_STR'], isString),
          hiddenNetwork: typed(raw['HIDDEN_NETWORK'], isBoolean),
          autoJoin: typed(raw['AutoJoin'], isBoolean),
          encryptionType: typed(raw['EncryptionType'], isString),
          isHotspot: typed(raw['IsHotspot'], isBoolean),
          captiveBypass: typed(raw['CaptiveBypass'], isBoolean),
          proxyType: typed(raw['ProxyType'], isString),
          allowJoinBeforeFirstUnlock: typed(raw['AllowJoinBeforeFirstUnlock'], isBoolean),
          disableAssociationMACRandomization: typed(
            raw['DisableAssociationMACRandomization'],
            isBoolean,
          ),
          domainName: typed(raw['DomainName'], isString),
        },
      );
      const identityUuid = raw['PayloadCertificateUUID'];

      if (typeof identityUuid === 'string')
        inspection.identityCertificate = reference(identityUuid);
      if (isPlistDict(eap)) inspection.eap = inspectEap(eap, reference);

      return inspection;
    });
}

function inspectEap(
  eap: PlistDict,
  reference: (uuid: string) => CertificateReference,
): WifiEapInspection {
  const userName = eap['UserName'];
  const userPassword = eap['UserPassword'];
  const hasUserName = typeof userName === 'string' && userName !== '';
  const hasUserPassword = typeof userPassword === 'string' && userPassword !== '';
  const anchors = eap['PayloadCertificateAnchorUUID'];
  const anchorList =
    typeof anchors === 'string' ? [anchors] : Array.isArray(anchors) ? anchors : [];
  const types = eap['AcceptEAPTypes'];
  const names = eap['TLSTrustedServerNames'];
  const trustedCertificates = eap['TLSTrustedCertificates'];

  return assign<WifiEapInspection>(
    {
      acceptEAPTypes: Array.isArray(types)
        ? types.filter((t): t is number => typeof t === 'number')
        : [],
      hasUserName,
      hasUserPassword,
      hasStoredCredentials: hasUserName && hasUserPassword,
      trustAnchors: anchorList.filter(isString).map(reference),
      tlsTrustedServerNames: Array.isArray(names) ? names.filter(isString) : [],
      hasTLSTrustedCertificates:
        Array.isArray(trustedCertificates) && trustedCertificates.length > 0,
      raw: eap,
    },
    { oneTimeUserPassword: typed(eap['OneTimeUserPassword'], isBoolean) },
  );
}
