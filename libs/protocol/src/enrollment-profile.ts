import { randomUUID } from 'node:crypto';

import { DictReader } from './plist-access.js';
import { encodePlistXml } from './plist-codec.js';
import type { PlistDict, PlistLimits } from './plist-types.js';
import { parseProfile, type ConfigurationProfile, type ProfilePayload } from './profiles.js';
import { ProtocolError } from './protocol.errors.js';
import {
  readScepPayload,
  SCEP_PAYLOAD_TYPE,
  scepPayloadContent,
  type ScepPayloadOptions,
  type ScepPayloadSettings,
} from './scep-payload.js';

// Key names: TopLevel.yaml, CommonPayloadKeys.yaml, com.apple.mdm.yaml and
// com.apple.security.scep.yaml of Apple's schema, and com.apple.security.pkcs12.yaml (not in our
// reference copy; see schema-keys.spec.ts).

export const MDM_PAYLOAD_TYPE = 'com.apple.mdm';
export const PKCS12_PAYLOAD_TYPE = 'com.apple.security.pkcs12';

/** Every access right (1 | 2 | ... | 4096). */
export const ALL_ACCESS_RIGHTS = 8191;

/** The ServerCapabilities values Apple's schema lists. */
export const SERVER_CAPABILITIES = [
  'com.apple.mdm.per-user-connections',
  'com.apple.mdm.bootstraptoken',
  'com.apple.mdm.token',
] as const;

export type ServerCapability = (typeof SERVER_CAPABILITIES)[number];

/**
 * The device identity a profile carries: a PKCS#12 file with the key in it, or SCEP settings
 * with which the device makes its own key and has the CA certify it.
 */
export type EnrollmentIdentityOptions =
  { pkcs12: Uint8Array; password: string } | { scep: ScepPayloadOptions };

/** The identity payload {@link readEnrollmentProfile} found. */
export type EnrollmentIdentity =
  { pkcs12: Uint8Array; password: string } | { scep: ScepPayloadSettings };

/** Options of {@link buildEnrollmentProfile}. */
export interface EnrollmentProfileOptions {
  serverUrl: string;
  /** Falls back to `serverUrl` on the device when omitted. */
  checkInUrl?: string;
  /** Must equal the push certificate's topic; starts with `com.apple.mgmt.`. */
  topic: string;
  identity: EnrollmentIdentityOptions;
  /** Default {@link ALL_ACCESS_RIGHTS}. */
  accessRights?: number;
  /** Default `['com.apple.mdm.bootstraptoken']` (needed for bootstrap-token escrow, B08). */
  serverCapabilities?: readonly string[];
  /** Default true. */
  signMessage?: boolean;
  /** Default true. */
  checkOutWhenRemoved?: boolean;
  organization: string;
  displayName: string;
  /** Reverse-DNS prefix; payloads get `<prefix>.identity` and `<prefix>.mdm`. */
  payloadIdentifierPrefix: string;
  /** Accept `http://` URLs; for local tests and the simulator only, devices require https. */
  allowInsecureUrls?: boolean;
}

/** What {@link readEnrollmentProfile} returns. */
export interface EnrollmentProfileSettings {
  serverUrl: string;
  /** CheckInURL, or ServerURL when the profile has none. */
  checkInUrl: string;
  topic: string;
  signMessage: boolean;
  checkOutWhenRemoved: boolean;
  serverCapabilities: string[];
  accessRights?: number;
  identityCertificateUUID: string;
  identity: EnrollmentIdentity;
  profile: ConfigurationProfile;
}

function invalid(message: string): never {
  throw new ProtocolError('PROFILE.INVALID_ARGUMENT', message);
}

function newUuid(): string {
  return randomUUID().toUpperCase();
}

/**
 * Checks an AccessRights value against Apple's rules: an integer from 1 to 8191 (never 0), 2
 * needs 1, 128 needs 64. Throws `PROFILE.INVALID_ARGUMENT`.
 */
export function assertValidAccessRights(rights: number): void {
  if (!Number.isInteger(rights) || rights < 1 || rights > ALL_ACCESS_RIGHTS) {
    invalid(`AccessRights must be an integer from 1 to ${ALL_ACCESS_RIGHTS}, got ${rights}`);
  }
  if ((rights & 2) !== 0 && (rights & 1) === 0) {
    invalid('AccessRights 2 (install/remove profiles) requires 1 (inspect profiles)');
  }
  if ((rights & 128) !== 0 && (rights & 64) === 0) {
    invalid('AccessRights 128 (install/remove provisioning profiles) requires 64 (inspect them)');
  }
}

function checkUrl(name: string, url: string, allowInsecure: boolean): string {
  let parsed: URL;

  try {
    parsed = new URL(url);
  } catch {
    return invalid(`${name} is not a URL: ${url}`);
  }

  const allowed = allowInsecure ? ['https:', 'http:'] : ['https:'];

  if (!allowed.includes(parsed.protocol)) invalid(`${name} must start with https:// (got ${url})`);

  return url;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    invalid(`${name} must be a non-empty string`);

  return value;
}

/**
 * Builds an unsigned enrollment profile (XML): an identity payload (`com.apple.security.scep`, or
 * `com.apple.security.pkcs12` holding the identity) and a `com.apple.mdm` payload whose
 * IdentityCertificateUUID names it. Every PayloadUUID is fresh on each call. Throws
 * `PROFILE.INVALID_ARGUMENT` for bad URLs, a topic that does not start with `com.apple.mgmt.`,
 * invalid AccessRights, unknown capabilities or bad identity settings.
 */
export function buildEnrollmentProfile(options: EnrollmentProfileOptions): Buffer {
  const insecure = options.allowInsecureUrls === true;
  const serverUrl = checkUrl('serverUrl', options.serverUrl, insecure);
  const topic = nonEmpty('topic', options.topic);
  const prefix = nonEmpty('payloadIdentifierPrefix', options.payloadIdentifierPrefix);
  const accessRights = options.accessRights ?? ALL_ACCESS_RIGHTS;
  const capabilities = options.serverCapabilities ?? ['com.apple.mdm.bootstraptoken'];

  if (!topic.startsWith('com.apple.mgmt.'))
    invalid(`topic must start with "com.apple.mgmt." (got ${topic})`);
  assertValidAccessRights(accessRights);
  for (const capability of capabilities) {
    if (!(SERVER_CAPABILITIES as readonly string[]).includes(capability)) {
      invalid(`unknown server capability "${capability}"`);
    }
  }
  if (new Set(capabilities).size !== capabilities.length)
    invalid('serverCapabilities repeats a value');

  const identityUuid = newUuid();
  const identityPayload: PlistDict = {
    PayloadVersion: 1,
    PayloadIdentifier: `${prefix}.identity`,
    PayloadUUID: identityUuid,
    PayloadDisplayName: 'Device identity',
    ...identityPayloadContent(options.identity, insecure),
  };
  const mdmPayload: PlistDict = {
    PayloadType: MDM_PAYLOAD_TYPE,
    PayloadVersion: 1,
    PayloadIdentifier: `${prefix}.mdm`,
    PayloadUUID: newUuid(),
    PayloadDisplayName: 'Device management',
    IdentityCertificateUUID: identityUuid,
    Topic: topic,
    ServerURL: serverUrl,
    SignMessage: options.signMessage ?? true,
    CheckOutWhenRemoved: options.checkOutWhenRemoved ?? true,
    AccessRights: accessRights,
    ServerCapabilities: [...capabilities],
  };

  if (options.checkInUrl !== undefined) {
    mdmPayload['CheckInURL'] = checkUrl('checkInUrl', options.checkInUrl, insecure);
  }

  return encodePlistXml({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: prefix,
    PayloadUUID: newUuid(),
    PayloadDisplayName: nonEmpty('displayName', options.displayName),
    PayloadOrganization: nonEmpty('organization', options.organization),
    PayloadContent: [identityPayload, mdmPayload],
  });
}

function identityPayloadContent(
  identity: EnrollmentIdentityOptions | undefined,
  allowInsecure: boolean,
): PlistDict {
  if (identity !== undefined && 'scep' in identity) {
    return {
      PayloadType: SCEP_PAYLOAD_TYPE,
      PayloadContent: scepPayloadContent(identity.scep, allowInsecure),
    };
  }

  const { pkcs12, password } = identity ?? {};
  if (!(pkcs12 instanceof Uint8Array) || pkcs12.length === 0 || pkcs12[0] !== 0x30) {
    invalid('identity.pkcs12 must be the DER bytes of a PKCS#12 file');
  }
  if (typeof password !== 'string') invalid('identity.password must be a string');

  return { PayloadType: PKCS12_PAYLOAD_TYPE, PayloadContent: pkcs12, Password: password };
}

function onlyPayload(profile: ConfigurationProfile, type: string): ProfilePayload {
  const matches = profile.payloads.filter((payload) => payload.payloadType === type);

  if (matches.length === 0) {
    throw new ProtocolError('PROFILE.MISSING_PAYLOAD', `the profile has no ${type} payload`);
  }
  if (matches.length > 1) {
    throw new ProtocolError(
      'PROFILE.MALFORMED',
      `the profile has ${matches.length} ${type} payloads`,
    );
  }

  return matches[0] as ProfilePayload;
}

/**
 * Reads the settings a device takes from an enrollment profile (used by the simulator): the MDM
 * payload's URLs, topic and flags, and the SCEP or PKCS#12 identity it names.
 *
 * Throws `PROFILE.MISSING_PAYLOAD` (no MDM payload, or the identity payload is missing),
 * `PROFILE.UNSUPPORTED_IDENTITY` (the identity is of another kind, such as ACME) or
 * `PROFILE.MALFORMED`.
 */
export function readEnrollmentProfile(
  bytes: Uint8Array,
  limits?: Partial<PlistLimits>,
): EnrollmentProfileSettings {
  const profile = parseProfile(bytes, limits);
  const mdm = onlyPayload(profile, MDM_PAYLOAD_TYPE);
  const r = new DictReader(mdm.raw, 'PROFILE.MALFORMED', 'MDM payload');
  const serverUrl = r.requiredString('ServerURL');
  const identityCertificateUUID = r.requiredString('IdentityCertificateUUID');
  const capabilities = r.get('ServerCapabilities');
  const accessRights = r.get('AccessRights');
  const identityPayload = profile.payloads.find(
    (payload) => payload.payloadUUID?.toUpperCase() === identityCertificateUUID.toUpperCase(),
  );

  if (identityPayload === undefined) {
    throw new ProtocolError(
      'PROFILE.MISSING_PAYLOAD',
      `IdentityCertificateUUID ${identityCertificateUUID} names no payload in the profile`,
    );
  }
  if (
    identityPayload.payloadType !== PKCS12_PAYLOAD_TYPE &&
    identityPayload.payloadType !== SCEP_PAYLOAD_TYPE
  ) {
    throw new ProtocolError(
      'PROFILE.UNSUPPORTED_IDENTITY',
      `the identity payload is ${identityPayload.payloadType}; ` +
        `only ${SCEP_PAYLOAD_TYPE} and ${PKCS12_PAYLOAD_TYPE} are supported`,
    );
  }
  if (
    capabilities !== undefined &&
    !(Array.isArray(capabilities) && capabilities.every((c) => typeof c === 'string'))
  ) {
    throw new ProtocolError(
      'PROFILE.MALFORMED',
      'MDM payload: ServerCapabilities must be an array of strings',
    );
  }
  if (accessRights !== undefined && typeof accessRights !== 'number') {
    throw new ProtocolError('PROFILE.MALFORMED', 'MDM payload: AccessRights must be an integer');
  }

  const settings: EnrollmentProfileSettings = {
    serverUrl,
    checkInUrl: r.optionalString('CheckInURL') ?? serverUrl,
    topic: r.requiredString('Topic'),
    signMessage: r.optionalBoolean('SignMessage') ?? false,
    checkOutWhenRemoved: r.optionalBoolean('CheckOutWhenRemoved') ?? false,
    serverCapabilities: (capabilities ?? []) as string[],
    identityCertificateUUID,
    identity: readIdentity(identityPayload),
    profile,
  };

  if (accessRights !== undefined) settings.accessRights = accessRights;

  return settings;
}

function readIdentity(payload: ProfilePayload): EnrollmentIdentity {
  if (payload.payloadType === SCEP_PAYLOAD_TYPE) {
    return { scep: readScepPayload(payload.raw) };
  }

  const identity = new DictReader(payload.raw, 'PROFILE.MALFORMED', 'PKCS#12 payload');

  return {
    pkcs12: identity.requiredData('PayloadContent'),
    password: identity.optionalString('Password') ?? '',
  };
}
