import { DictReader, requireDict } from './plist-access.js';
import { decodePlist, encodePlistXml } from './plist-codec.js';
import { isPlistDict, type PlistDict, type PlistLimits, type PlistValue } from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';

// Builders for the command dictionaries the server sends. Key names come from Apple's schema
// (mdm/commands/*.yaml); the schema spec checks every key a builder writes against those files.

/** A command dictionary: `RequestType` plus that command's keys. */
export interface Command extends PlistDict {
  RequestType: string;
}

/** A command as it travels to the device: `{CommandUUID, Command}`. */
export interface CommandEnvelope {
  commandUuid: string;
  requestType: string;
  command: Command;
}

function invalid(message: string): never {
  throw new ProtocolError('COMMAND.INVALID_ARGUMENT', message);
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function startsWithAscii(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;

  return true;
}

/**
 * Refuses anything but raw profile bytes (B02): an XML profile (`<`, after an optional BOM and
 * whitespace), a binary plist (`bplist00`) or a CMS-signed profile (DER, first byte 0x30).
 * Base64 text of a profile is the classic double-encoding mistake and gets a specific message.
 */
export function assertProfileBytes(name: string, bytes: unknown): asserts bytes is Uint8Array {
  if (!isBytes(bytes)) {
    invalid(`${name} must be the raw profile bytes (Uint8Array/Buffer), not ${typeof bytes}`);
  }
  if (bytes.length === 0) invalid(`${name} is empty`);

  let i = startsWithAscii(bytes, 0, '\u00ef\u00bb\u00bf') ? 3 : 0;

  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)
  ) {
    i++;
  }

  if (bytes[i] === 0x3c || startsWithAscii(bytes, 0, 'bplist00') || bytes[0] === 0x30) return;

  const looksBase64 = ['PD94', 'PD9', 'PHBsaXN0', 'YnBsaXN0MDA', 'MI'].some((prefix) =>
    startsWithAscii(bytes, i, prefix),
  );

  invalid(
    looksBase64
      ? `${name} looks base64-encoded; pass the decoded profile bytes ` +
          '(the plist writer base64-encodes <data> once)'
      : `${name} is not a profile: expected XML, "bplist00" or a CMS (DER) signed profile`,
  );
}

function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;

  return invalid(`${name} must be a boolean`);
}

function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    invalid(`${name} must be a non-empty string`);

  return value;
}

function setDefined(target: PlistDict, key: string, value: PlistValue | undefined): void {
  if (value !== undefined) target[key] = value;
}

// ---------------------------------------------------------------- EraseDevice / Return to Service

/** The ReturnToService dictionary of an EraseDevice command or a ReturnToService reply. */
export interface ReturnToServiceOptions {
  enabled: boolean;
  /** Raw bytes of a profile holding the Wi-Fi payload; never base64 text. */
  wifiProfileData?: Uint8Array;
  /** Raw bytes of the enrollment profile. */
  mdmProfileData?: Uint8Array;
  /** The token escrowed by SetBootstrapToken; omit when none is stored (never send it empty). */
  bootstrapToken?: Uint8Array;
  /** iOS 27 (seed schema). */
  shouldRetryEnrollment?: boolean;
}

export type ObliterationBehavior =
  'Default' | 'DoNotObliterate' | 'ObliterateWithWarning' | 'Always';

/** Options of {@link buildEraseDevice}; keys follow mdm/commands/device.erase.yaml. */
export interface EraseDeviceOptions {
  returnToService?: ReturnToServiceOptions;
  /** Top-level in the command, not inside ReturnToService. */
  preserveDataPlan?: boolean;
  disallowProximitySetup?: boolean;
  /** macOS Find My PIN, six characters. */
  pin?: string;
  /** macOS 12+. */
  obliterationBehavior?: ObliterationBehavior;
}

const OBLITERATION_BEHAVIORS: readonly string[] = [
  'Default',
  'DoNotObliterate',
  'ObliterateWithWarning',
  'Always',
];

function buildReturnToServiceDict(options: ReturnToServiceOptions): PlistDict {
  if (typeof options?.enabled !== 'boolean') invalid('returnToService.enabled must be a boolean');

  const rts: PlistDict = { Enabled: options.enabled };

  if (options.wifiProfileData !== undefined) {
    assertProfileBytes('returnToService.wifiProfileData', options.wifiProfileData);
    rts['WiFiProfileData'] = options.wifiProfileData;
  }
  if (options.mdmProfileData !== undefined) {
    assertProfileBytes('returnToService.mdmProfileData', options.mdmProfileData);
    rts['MDMProfileData'] = options.mdmProfileData;
  }
  if (options.bootstrapToken !== undefined) {
    if (!isBytes(options.bootstrapToken)) invalid('returnToService.bootstrapToken must be bytes');
    // An empty token is not "no token"; the key is left out when nothing is escrowed (B08).
    if (options.bootstrapToken.length === 0) {
      invalid('returnToService.bootstrapToken is empty; omit it when no token is escrowed');
    }
    rts['BootstrapToken'] = options.bootstrapToken;
  }
  setDefined(
    rts,
    'ShouldRetryEnrollment',
    optionalBoolean('returnToService.shouldRetryEnrollment', options.shouldRetryEnrollment),
  );

  return rts;
}

/** Builds an EraseDevice command; with `returnToService` it becomes a Return to Service erase. */
export function buildEraseDevice(options: EraseDeviceOptions = {}): Command {
  const command: Command = { RequestType: 'EraseDevice' };

  setDefined(
    command,
    'PreserveDataPlan',
    optionalBoolean('preserveDataPlan', options.preserveDataPlan),
  );
  setDefined(
    command,
    'DisallowProximitySetup',
    optionalBoolean('disallowProximitySetup', options.disallowProximitySetup),
  );
  if (options.pin !== undefined) {
    if (typeof options.pin !== 'string' || [...options.pin].length !== 6) {
      invalid('pin must be a six-character string');
    }
    command['PIN'] = options.pin;
  }
  if (options.obliterationBehavior !== undefined) {
    if (!OBLITERATION_BEHAVIORS.includes(options.obliterationBehavior)) {
      invalid(`obliterationBehavior must be one of ${OBLITERATION_BEHAVIORS.join(', ')}`);
    }
    command['ObliterationBehavior'] = options.obliterationBehavior;
  }
  if (options.returnToService !== undefined) {
    command['ReturnToService'] = buildReturnToServiceDict(options.returnToService);
  }

  return command;
}

export interface ReturnToServiceResponseOptions {
  returnToService: ReturnToServiceOptions;
  /** Top-level, a sibling of ReturnToService (iOS 26.4). */
  preserveDataPlan?: boolean;
}

/**
 * Builds the reply to a `ReturnToService` check-in: the same ReturnToService dictionary an
 * EraseDevice would carry, with `PreserveDataPlan` beside it (B07). Encode with
 * {@link encodePlistXml}.
 */
export function buildReturnToServiceResponse(options: ReturnToServiceResponseOptions): PlistDict {
  const response: PlistDict = {
    ReturnToService: buildReturnToServiceDict(options.returnToService),
  };

  setDefined(
    response,
    'PreserveDataPlan',
    optionalBoolean('preserveDataPlan', options.preserveDataPlan),
  );

  return response;
}

// ---------------------------------------------------------------- profiles

/** InstallProfile with the raw profile bytes (XML, binary or CMS-signed). */
export function buildInstallProfile(payload: Uint8Array): Command {
  assertProfileBytes('payload', payload);

  return { RequestType: 'InstallProfile', Payload: payload };
}

/** RemoveProfile by the profile's top-level PayloadIdentifier. */
export function buildRemoveProfile(identifier: string): Command {
  return { RequestType: 'RemoveProfile', Identifier: nonEmptyString('identifier', identifier) };
}

/** ProfileList; `managedOnly` limits the result to profiles installed by MDM. */
export function buildProfileList(options: { managedOnly?: boolean } = {}): Command {
  const command: Command = { RequestType: 'ProfileList' };

  setDefined(command, 'ManagedOnly', optionalBoolean('managedOnly', options.managedOnly));

  return command;
}

// ---------------------------------------------------------------- applications

/** Options of {@link buildInstallApplication}; keys follow application.install.yaml. */
export interface InstallApplicationOptions {
  /** App Store app. Exactly one of iTunesStoreID, identifier and manifestURL is required. */
  iTunesStoreID?: number;
  /** App by bundle identifier (VPP). */
  identifier?: string;
  /** Enterprise app manifest; must be https. */
  manifestURL?: string;
  /** Bitwise OR of 1 (remove with MDM profile) and 4 (prevent backup); 0 for none. */
  managementFlags?: number;
  /** Options.PurchaseMethod: 0 (free / legacy VPP code) or 1 (VPP assignment). */
  purchaseMethod?: 0 | 1;
  configuration?: PlistDict;
  attributes?: PlistDict;
  changeManagementState?: 'Managed';
  installAsManaged?: boolean;
  iOSApp?: boolean;
}

/**
 * InstallApplication for an App Store app (`iTunesStoreID`), an app by bundle identifier
 * (`identifier`) or an enterprise app (`manifestURL`, https only). Throws
 * `COMMAND.INVALID_ARGUMENT` unless exactly one of the three is given, or for values outside the
 * schema's ranges.
 */
export function buildInstallApplication(options: InstallApplicationOptions): Command {
  const sources = [options.iTunesStoreID, options.identifier, options.manifestURL].filter(
    (v) => v !== undefined,
  );

  if (sources.length !== 1) invalid('give exactly one of iTunesStoreID, identifier, manifestURL');

  const command: Command = { RequestType: 'InstallApplication' };

  if (options.iTunesStoreID !== undefined) {
    if (!Number.isSafeInteger(options.iTunesStoreID) || options.iTunesStoreID <= 0) {
      invalid('iTunesStoreID must be a positive integer');
    }
    command['iTunesStoreID'] = options.iTunesStoreID;
  }
  if (options.identifier !== undefined)
    command['Identifier'] = nonEmptyString('identifier', options.identifier);
  if (options.manifestURL !== undefined) {
    if (!/^https:\/\/\S+$/.test(options.manifestURL)) invalid('manifestURL must be an https URL');
    command['ManifestURL'] = options.manifestURL;
  }
  if (options.managementFlags !== undefined) {
    if (![0, 1, 4, 5].includes(options.managementFlags))
      invalid('managementFlags must be 0, 1, 4 or 5');
    command['ManagementFlags'] = options.managementFlags;
  }
  if (options.purchaseMethod !== undefined) {
    if (options.purchaseMethod !== 0 && options.purchaseMethod !== 1)
      invalid('purchaseMethod must be 0 or 1');
    command['Options'] = { PurchaseMethod: options.purchaseMethod };
  }
  if (options.configuration !== undefined) {
    if (!isPlistDict(options.configuration)) invalid('configuration must be a dictionary');
    command['Configuration'] = options.configuration;
  }
  if (options.attributes !== undefined) {
    if (!isPlistDict(options.attributes)) invalid('attributes must be a dictionary');
    command['Attributes'] = options.attributes;
  }
  if (options.changeManagementState !== undefined) {
    if (options.changeManagementState !== 'Managed')
      invalid('changeManagementState must be "Managed"');
    command['ChangeManagementState'] = options.changeManagementState;
  }
  setDefined(
    command,
    'InstallAsManaged',
    optionalBoolean('installAsManaged', options.installAsManaged),
  );
  setDefined(command, 'iOSApp', optionalBoolean('iOSApp', options.iOSApp));

  return command;
}

function identifierList(name: string, identifiers: readonly string[]): string[] {
  if (!Array.isArray(identifiers)) invalid(`${name} must be an array of strings`);

  return identifiers.map((id, i) => nonEmptyString(`${name}[${i}]`, id));
}

/** ManagedApplicationList, optionally limited to some bundle identifiers. */
export function buildManagedApplicationList(identifiers?: readonly string[]): Command {
  const command: Command = { RequestType: 'ManagedApplicationList' };

  if (identifiers !== undefined)
    command['Identifiers'] = identifierList('identifiers', identifiers);

  return command;
}

/** InstalledApplicationList, optionally limited to identifiers or to managed apps. */
export function buildInstalledApplicationList(
  options: { identifiers?: readonly string[]; managedAppsOnly?: boolean } = {},
): Command {
  const command: Command = { RequestType: 'InstalledApplicationList' };

  if (options.identifiers !== undefined) {
    command['Identifiers'] = identifierList('identifiers', options.identifiers);
  }
  setDefined(
    command,
    'ManagedAppsOnly',
    optionalBoolean('managedAppsOnly', options.managedAppsOnly),
  );

  return command;
}

// ---------------------------------------------------------------- information and settings

/** DeviceInformation with the query names (e.g. `UDID`, `AwaitingConfiguration`). */
export function buildDeviceInformation(queries: readonly string[]): Command {
  if (!Array.isArray(queries) || queries.length === 0) invalid('queries must be a non-empty array');

  return { RequestType: 'DeviceInformation', Queries: identifierList('queries', queries) };
}

/** SecurityInfo (ManagementStatus, passcode, FileVault, bootstrap-token state, ...). */
export function buildSecurityInfo(): Command {
  return { RequestType: 'SecurityInfo' };
}

/** Releases a device held in Setup Assistant (await configuration). */
export function buildDeviceConfigured(): Command {
  return { RequestType: 'DeviceConfigured' };
}

/**
 * Settings with one dictionary per setting; each needs an `Item` naming the setting, e.g.
 * `{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }`.
 */
export function buildSettings(items: readonly PlistDict[]): Command {
  if (!Array.isArray(items) || items.length === 0) invalid('settings must be a non-empty array');

  items.forEach((item, i) => {
    if (!isPlistDict(item)) invalid(`settings[${i}] must be a dictionary`);
    nonEmptyString(`settings[${i}].Item`, item['Item']);
  });

  return { RequestType: 'Settings', Settings: [...items] };
}

/** Asks a supervised device for its Activation Lock bypass code. */
export function buildActivationLockBypassCode(): Command {
  return { RequestType: 'ActivationLockBypassCode' };
}

/** Removes the bypass code from the device once the server has stored it. */
export function buildClearActivationLockBypassCode(): Command {
  return { RequestType: 'ClearActivationLockBypassCode' };
}

// ---------------------------------------------------------------- 403 software update required

/** The `code` of Apple's 403 error that asks an enrolling device to update its OS first. */
export const SOFTWARE_UPDATE_REQUIRED_CODE = 'com.apple.softwareupdate.required';

/** Options of {@link buildSoftwareUpdateRequired} (mdm/errors/softwareupdate.required.yaml). */
export interface SoftwareUpdateRequiredOptions {
  /** Target version, e.g. `26.4`, optionally with a supplemental suffix: `26.4 (a)`. */
  osVersion: string;
  /** Target build, e.g. `23E100` (seeding); if it disagrees with osVersion, osVersion wins. */
  buildVersion?: string;
  /** Shown to the person at the device. */
  message?: string;
  /** For logs only; the device never shows it. */
  description?: string;
  /** iOS 17.5 / macOS 14.5: enroll the device in a beta program (AxM seeding-service token). */
  requireBetaProgram?: { description: string; token: string };
}

/** The 403 body; a type alias (not an interface) so it is both a JSON object and a PlistDict. */
export type SoftwareUpdateRequiredBody = {
  code: typeof SOFTWARE_UPDATE_REQUIRED_CODE;
  description?: string;
  message?: string;
  details: {
    OSVersion: string;
    BuildVersion?: string;
    RequireBetaProgram?: { Description: string; Token: string };
  };
};

// A marketing version with up to three numeric parts and Apple's supplemental suffix ("(a)").
const OS_VERSION = /^\d+(\.\d+){0,2}( \([a-z]\))?$/;
// A build such as 23E100, a beta 23A5276f, or a supplemental 20A242a.
const BUILD_VERSION = /^\d+[A-Z]\d+[a-z]*$/;

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') invalid(`${name} must be a string`);

  return value;
}

/**
 * Builds the body of the `403` that makes a device enrolling in Setup Assistant update its OS
 * first (`ErrorCodeSoftwareUpdateRequired`; iOS 17, macOS 14, visionOS 26). Send it as JSON or as
 * an XML plist with the matching `Content-Type`, and only to a device whose MachineInfo says
 * `MDM_CAN_REQUEST_SOFTWARE_UPDATE`. Throws `COMMAND.INVALID_ARGUMENT` for a version that is not
 * dotted numeric (with an optional `(a)` suffix) or a build that is not an Apple build number.
 */
export function buildSoftwareUpdateRequired(
  options: SoftwareUpdateRequiredOptions,
): SoftwareUpdateRequiredBody {
  if (typeof options?.osVersion !== 'string' || !OS_VERSION.test(options.osVersion)) {
    invalid('osVersion must be a version such as "26.4" or "26.4 (a)"');
  }
  if (
    options.buildVersion !== undefined &&
    (typeof options.buildVersion !== 'string' || !BUILD_VERSION.test(options.buildVersion))
  ) {
    invalid('buildVersion must be a build such as "23E100"');
  }

  const details: SoftwareUpdateRequiredBody['details'] = { OSVersion: options.osVersion };

  if (options.buildVersion !== undefined) details.BuildVersion = options.buildVersion;
  if (options.requireBetaProgram !== undefined) {
    const beta = options.requireBetaProgram;

    details.RequireBetaProgram = {
      Description: nonEmptyString('requireBetaProgram.description', beta?.description),
      Token: nonEmptyString('requireBetaProgram.token', beta?.token),
    };
  }

  const description = optionalString('description', options.description);
  const message = optionalString('message', options.message);

  return {
    code: SOFTWARE_UPDATE_REQUIRED_CODE,
    ...(description === undefined ? {} : { description }),
    ...(message === undefined ? {} : { message }),
    details,
  };
}

// ---------------------------------------------------------------- wire form

/** Writes the command as the XML plist `{CommandUUID, Command}` the device receives. */
export function encodeCommand(commandUuid: string, command: PlistDict): Buffer {
  nonEmptyString('commandUuid', commandUuid);
  if (!isPlistDict(command)) invalid('command must be a dictionary');
  nonEmptyString('command.RequestType', command['RequestType']);

  return encodePlistXml({ CommandUUID: commandUuid, Command: command });
}

/** Interprets an already decoded command envelope. See {@link parseCommand}. */
export function commandFromPlist(value: PlistValue): CommandEnvelope {
  const envelope = new DictReader(
    requireDict(value, 'COMMAND.MALFORMED', 'A command body'),
    'COMMAND.MALFORMED',
    'Command',
  );
  const commandUuid = envelope.requiredString('CommandUUID');
  const command = envelope.requiredDict('Command');
  const requestType = new DictReader(command, 'COMMAND.MALFORMED', 'Command').requiredString(
    'RequestType',
  );

  if (commandUuid === '' || requestType === '') {
    throw new ProtocolError(
      'COMMAND.MALFORMED',
      'Command: CommandUUID and RequestType must not be empty',
    );
  }

  return { commandUuid, requestType, command: command as Command };
}

/**
 * Reads a command plist `{CommandUUID, Command: {RequestType, ...}}` in any key order. CommandUUID
 * is any non-empty string (UUIDs in either case, dash-less hex, `0001_EraseDevice`, ...).
 * Throws `PLIST.*` or `COMMAND.MALFORMED`.
 */
export function parseCommand(body: Uint8Array, limits?: Partial<PlistLimits>): CommandEnvelope {
  return commandFromPlist(decodePlist(body, limits));
}
