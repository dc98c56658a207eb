import {
  inspectWifiPayloads,
  isPlistDict,
  parseProfile,
  readEnrollmentProfile,
  type CommandEnvelope,
  type PlistDict,
  type PlistValue,
  type WifiPayloadInspection,
} from '@turnaround/protocol';

import type { Hardware } from './hardware.js';
import { seededFraction } from './random.js';

/** A profile the device has installed, as ProfileList reports it. */
export interface InstalledProfile {
  identifier: string;
  uuid: string;
  displayName?: string;
  /** It holds a Wi-Fi payload with AllowJoinBeforeFirstUnlock (visionOS, at most one on a device). */
  joinsBeforeFirstUnlock?: boolean;
}

export interface ManagedApp {
  identifier: string;
  /** `Queued`: waits for DeviceConfigured before it downloads (RTS with app preservation). */
  state: 'Queued' | 'Installing' | 'Managed';
}

/** What the responder may look at: the device as it is when the command arrives. */
export interface DeviceView {
  hardware: Hardware;
  awaitingConfiguration: boolean;
  profiles: readonly InstalledProfile[];
  apps: readonly ManagedApp[];
  /**
   * Only in an enrollment that came back from an erase with app preservation: the managed apps
   * the device recorded after the erase. Reinstalling one of them needs no download.
   */
  preservedApps?: ReadonlySet<string>;
  /** RTS with app preservation mode: the only mode that takes AllowJoinBeforeFirstUnlock. */
  appPreservationMode?: boolean;
  /** After DeviceConfigured with app preservation, until the snapshot is taken: all NotNow. */
  snapshotting?: boolean;
  activationLock?: { locked: boolean; bypassCode: string };
}

/** What happens to the device once its answer has reached the server. */
export interface ErasePlan {
  returnToService: boolean;
  /** Why the device cannot come back on its own after the erase; absent when it can. */
  strandedBecause?: string;
  /** The enrollment profile to use instead of the ADE fetch, already checked to be readable. */
  mdmProfileData?: Uint8Array;
  /** SSIDs of the Wi-Fi payloads the device joins after the erase. */
  ssids: string[];
  /** `ReturnToService.BootstrapToken`: keeps the apps when it is the token the device escrowed. */
  bootstrapToken?: Uint8Array;
  /** Top-level `PreserveDataPlan` (never inside ReturnToService). */
  preserveDataPlan?: boolean;
}

/** How an acknowledged InstallApplication gets the app onto the device. */
export type InstallKind =
  /** Downloaded now. */
  | 'download'
  /** App preservation: a new app, downloaded once DeviceConfigured is acknowledged. */
  | 'after-configured'
  /** App preservation: an app the device kept through the erase; nothing to download. */
  | 'preserved'
  /** Already on the device. */
  | 'present';

export type CommandEffect =
  | { kind: 'none' }
  | { kind: 'configured' }
  | { kind: 'profile-installed'; profile: InstalledProfile }
  | { kind: 'profile-removed'; identifier: string }
  | { kind: 'app-installing'; identifier: string; install: InstallKind }
  | { kind: 'settings'; temporarySessionTimeout?: number }
  | { kind: 'erase'; plan: ErasePlan };

export type AnswerStatus = 'Acknowledged' | 'Error' | 'NotNow' | 'CommandFormatError';

export interface CommandAnswer {
  status: AnswerStatus;
  /** Result keys beside UDID, CommandUUID and Status. */
  result: PlistDict;
  effect: CommandEffect;
}

export interface CommandResponderOptions {
  /** Share of first InstallApplication deliveries answered NotNow, from 0 to 1. */
  notNowShare: number;
  seed: string;
}

// Error codes and domains as devices report them; Apple calls them diagnostic only, so these are
// plausible values rather than a contract.
const MDM_ERROR_DOMAIN = 'MCMDMErrorDomain';
const PROFILE_ERROR_DOMAIN = 'MCProfileErrorDomain';
const PAYLOAD_ERROR_DOMAIN = 'MCPayloadErrorDomain';
const SETTINGS_ERROR_DOMAIN = 'MCSettingsErrorDomain';
const UNSUPPORTED_COMMAND = 12021;
const MALFORMED_COMMAND = 12001;
const NOT_AWAITING_CONFIGURATION = 12080;
const PROFILE_UNREADABLE = 1000;
const PROFILE_NOT_FOUND = 1003;
const PAYLOAD_REFUSED = 2003;
const SETTING_REFUSED = 12077;

// Apple's minimum for TemporarySessionTimeout, in seconds (mdm/commands/settings.yaml).
const MINIMUM_SESSION_TIMEOUT = 30;

// Store ids of Apple's own iWork apps, so a plan with real ids reports real bundle identifiers.
const STORE_APPS: Record<number, string> = {
  361285480: 'com.apple.Keynote',
  361304891: 'com.apple.Numbers',
  361309726: 'com.apple.Pages',
};

/** One ErrorChain element. */
export function errorChainItem(code: number, domain: string, description: string): PlistDict {
  return {
    ErrorCode: code,
    ErrorDomain: domain,
    LocalizedDescription: description,
    USEnglishDescription: description,
  };
}

function failure(status: 'Error' | 'CommandFormatError', ...chain: PlistDict[]): CommandAnswer {
  return { status, result: { ErrorChain: chain }, effect: { kind: 'none' } };
}

function acknowledged(
  result: PlistDict = {},
  effect: CommandEffect = { kind: 'none' },
): CommandAnswer {
  return { status: 'Acknowledged', result, effect };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function firstNonSpace(bytes: Uint8Array): number {
  let i = 0;

  while (i < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i] ?? 0)) {
    i += 1;
  }

  return i;
}

/**
 * True for base64 text of a profile where the raw bytes belong: a `<data>` value that was
 * encoded a second time (`PD94` is "<?x", `PHBs` is "<pl", `YnBs` is "bpl").
 */
export function isDoubleEncodedProfile(bytes: Uint8Array): boolean {
  const start = firstNonSpace(bytes);
  const head = Buffer.from(bytes.subarray(start, start + 4)).toString('latin1');

  return ['PD94', 'PHBs', 'YnBs'].includes(head);
}

export type NetworkVerdict = { ok: true; ssids: string[] } | { ok: false; reason: string };

/**
 * Can the device get online after an erase with this WiFiProfileData? Without one, only a device
 * with Ethernet (Apple TV) can; with one, it must be raw profile bytes holding a Wi-Fi payload
 * that joins without a person.
 */
export function checkWifiProfileData(
  data: PlistValue | undefined,
  hardware: Hardware,
): NetworkVerdict {
  if (data === undefined) {
    return hardware.ethernetMac
      ? { ok: true, ssids: [] }
      : {
          ok: false,
          reason: 'no WiFiProfileData and no Ethernet: the device stays offline in Setup Assistant',
        };
  }
  if (!(data instanceof Uint8Array)) {
    return { ok: false, reason: 'WiFiProfileData is not <data>: the device cannot join a network' };
  }
  if (isDoubleEncodedProfile(data)) {
    return {
      ok: false,
      reason:
        'WiFiProfileData is base64 text of a profile (encoded twice): the device cannot read it and stays offline in Setup Assistant',
    };
  }

  let payloads;

  try {
    payloads = inspectWifiPayloads(parseProfile(data));
  } catch (error) {
    return {
      ok: false,
      reason: `WiFiProfileData is not a readable profile (${describe(error)}): the device stays offline`,
    };
  }
  if (payloads.length === 0) {
    return {
      ok: false,
      reason: 'WiFiProfileData has no com.apple.wifi.managed payload: the device stays offline',
    };
  }

  // On visionOS a payload that breaks the AllowJoinBeforeFirstUnlock rules does not install.
  const refused =
    hardware.platform === 'visionos' ? joinBeforeFirstUnlockProblem(payloads) : undefined;

  if (refused !== undefined) {
    return {
      ok: false,
      reason: `the Wi-Fi payload of WiFiProfileData does not install (${refused}): the device stays offline`,
    };
  }

  const joinable = payloads.filter((payload) => {
    if (payload.eap) {
      return (
        payload.eap.hasStoredCredentials || payload.identityCertificate?.includedInProfile === true
      );
    }

    return payload.encryptionType === 'None' || payload.hasPassword;
  });

  if (joinable.length === 0) {
    return {
      ok: false,
      reason:
        'no Wi-Fi payload in WiFiProfileData joins without a person (password or credentials missing)',
    };
  }

  return { ok: true, ssids: joinable.map((payload) => payload.ssid ?? '') };
}

/**
 * Why visionOS refuses Wi-Fi payloads that set AllowJoinBeforeFirstUnlock, or undefined when it
 * takes them (section 11): one such payload at most, no enterprise authentication, no hotspot, no
 * QoS marking policy, no proxy. Being in app-preservation mode is checked by the caller.
 */
export function joinBeforeFirstUnlockProblem(
  payloads: readonly WifiPayloadInspection[],
): string | undefined {
  const flagged = payloads.filter((payload) => payload.allowJoinBeforeFirstUnlock === true);

  if (flagged.length > 1) {
    return 'more than one Wi-Fi payload sets AllowJoinBeforeFirstUnlock';
  }

  const payload = flagged[0];

  if (payload === undefined) {
    return undefined;
  }
  if (payload.eap !== undefined) {
    return 'AllowJoinBeforeFirstUnlock with EAPClientConfiguration';
  }
  if (payload.isHotspot === true) {
    return 'AllowJoinBeforeFirstUnlock with IsHotspot';
  }
  if (payload.hasQoSMarkingPolicy) {
    return 'AllowJoinBeforeFirstUnlock with QoSMarkingPolicy';
  }
  if (payload.proxyType !== undefined && payload.proxyType !== 'None') {
    return `AllowJoinBeforeFirstUnlock with ProxyType ${payload.proxyType}`;
  }

  return undefined;
}

/** Is MDMProfileData an enrollment profile this device can use? Undefined when it is. */
export function checkMdmProfileData(data: PlistValue): string | undefined {
  if (!(data instanceof Uint8Array)) {
    return 'MDMProfileData is not <data>: the device cannot enroll';
  }
  if (isDoubleEncodedProfile(data)) {
    return 'MDMProfileData is base64 text of a profile (encoded twice): the device cannot enroll';
  }
  try {
    readEnrollmentProfile(data);
  } catch (error) {
    return `MDMProfileData is not a usable enrollment profile (${describe(error)})`;
  }

  return undefined;
}

/**
 * Reads a ReturnToService dictionary (of an EraseDevice command, or of the answer to the
 * ReturnToService check-in) with its top-level siblings into what the device will do. Apple: the
 * device commits to the erase first and only then finds out whether it can get back online, so
 * a bad Wi-Fi profile strands it afterwards rather than failing the command. Undefined when
 * `rts` is not a dictionary.
 */
export function planReturnToService(
  rts: PlistValue | undefined,
  topLevel: PlistDict,
  hardware: Hardware,
): ErasePlan | undefined {
  if (rts !== undefined && !isPlistDict(rts)) {
    return undefined;
  }

  const preserveDataPlan = topLevel['PreserveDataPlan'];
  const plan: ErasePlan =
    rts === undefined || rts['Enabled'] !== true
      ? {
          returnToService: false,
          strandedBecause:
            'erased without Return to Service: the device waits in Setup Assistant for a person',
          ssids: [],
        }
      : readEnabledReturnToService(rts, hardware);

  if (typeof preserveDataPlan === 'boolean') {
    plan.preserveDataPlan = preserveDataPlan;
  }

  return plan;
}

function readEnabledReturnToService(rts: PlistDict, hardware: Hardware): ErasePlan {
  const network = checkWifiProfileData(rts['WiFiProfileData'], hardware);
  const plan: ErasePlan = { returnToService: true, ssids: network.ok ? network.ssids : [] };
  const mdmProfile = rts['MDMProfileData'];
  const token = rts['BootstrapToken'];

  if (!network.ok) {
    plan.strandedBecause = network.reason;
  } else if (mdmProfile !== undefined) {
    const problem = checkMdmProfileData(mdmProfile);

    if (problem !== undefined) {
      plan.strandedBecause = problem;
    } else if (mdmProfile instanceof Uint8Array) {
      plan.mdmProfileData = mdmProfile;
    }
  }
  // Only raw bytes can match the escrowed token; anything else makes it a full erase.
  if (token instanceof Uint8Array && token.length > 0) {
    plan.bootstrapToken = token;
  }

  return plan;
}

/**
 * Answers commands the way an iPhone, iPad, Apple TV or Vision Pro in a shared fleet does. One
 * responder per device: it remembers which app installs it put off with NotNow.
 */
export class CommandResponder {
  private readonly installsSeen = new Map<string, number>();
  private readonly notNowGiven = new Set<string>();

  constructor(private readonly options: CommandResponderOptions) {}

  answer(envelope: CommandEnvelope, device: DeviceView): CommandAnswer {
    const command = envelope.command;

    // Section 8.2 step 9: while it installs new apps and takes its snapshot, the device answers
    // every command NotNow and says Idle when it is done.
    if (device.snapshotting) {
      return { status: 'NotNow', result: {}, effect: { kind: 'none' } };
    }

    switch (envelope.requestType) {
      case 'DeviceInformation':
        return this.deviceInformation(command, device);
      case 'SecurityInfo':
        return acknowledged({ SecurityInfo: securityInfo(device) });
      case 'InstallProfile':
        return installProfile(command, device);
      case 'RemoveProfile':
        return removeProfile(command, device);
      case 'ProfileList':
        return acknowledged({ ProfileList: device.profiles.map(profileListEntry) });
      case 'InstallApplication':
        return this.installApplication(envelope, device);
      case 'ManagedApplicationList':
        return acknowledged({ ManagedApplicationList: managedApplications(device) });
      case 'InstalledApplicationList':
        return acknowledged({ InstalledApplicationList: installedApplications(device) });
      case 'Settings':
        return settings(command, device);
      case 'ActivationLockBypassCode':
        return activationLockBypassCode(device);
      case 'DeviceConfigured':
        return deviceConfigured(device);
      case 'EraseDevice':
        return eraseDevice(command, device);
      default:
        return unsupported(envelope.requestType);
    }
  }

  private deviceInformation(command: PlistDict, device: DeviceView): CommandAnswer {
    const known = deviceFacts(device);
    const queries = command['Queries'];

    if (queries !== undefined && !Array.isArray(queries)) {
      return failure(
        'CommandFormatError',
        errorChainItem(MALFORMED_COMMAND, MDM_ERROR_DOMAIN, 'Queries must be an array of strings'),
      );
    }

    // Apple: keys the device does not know are left out of QueryResponses, never an error.
    const wanted =
      queries === undefined ? Object.keys(known) : queries.filter((q) => typeof q === 'string');
    const responses: PlistDict = {};

    for (const key of wanted) {
      const value = known[key];

      if (value !== undefined) {
        responses[key] = value;
      }
    }

    return acknowledged({ QueryResponses: responses });
  }

  private installApplication(envelope: CommandEnvelope, device: DeviceView): CommandAnswer {
    const command = envelope.command;
    const storeId = command['iTunesStoreID'];
    const identifier =
      typeof command['Identifier'] === 'string'
        ? command['Identifier']
        : typeof storeId === 'number'
          ? (STORE_APPS[storeId] ?? `com.example.store-app-${storeId}`)
          : typeof command['ManifestURL'] === 'string'
            ? `com.example.enterprise-app-${hostOf(command['ManifestURL'])}`
            : undefined;

    if (identifier === undefined) {
      return failure(
        'CommandFormatError',
        errorChainItem(
          MALFORMED_COMMAND,
          MDM_ERROR_DOMAIN,
          'InstallApplication needs iTunesStoreID, Identifier or ManifestURL',
        ),
      );
    }

    const present = device.apps.find((app) => app.identifier === identifier);
    const preserving = device.preservedApps !== undefined && device.awaitingConfiguration;
    const install: InstallKind =
      preserving && device.preservedApps?.has(identifier)
        ? 'preserved'
        : present
          ? 'present'
          : preserving
            ? 'after-configured'
            : 'download';

    // NotNow stands for a download the device cannot start yet; a kept app needs none.
    if (
      (install === 'download' || install === 'after-configured') &&
      this.putsOff(envelope.commandUuid, device)
    ) {
      return { status: 'NotNow', result: {}, effect: { kind: 'none' } };
    }

    const state =
      install === 'preserved'
        ? 'Managed'
        : install === 'present'
          ? (present?.state ?? 'Managed')
          : install === 'after-configured'
            ? 'Queued'
            : 'Installing';

    return acknowledged(
      { Identifier: identifier, State: state },
      { kind: 'app-installing', identifier, install },
    );
  }

  /** Whether this install is put off with NotNow: once per command, drawn from the seed. */
  private putsOff(commandUuid: string, device: DeviceView): boolean {
    // The install counter (not the random CommandUUID) keys the draw, so the same seed puts off
    // the same installs in every run.
    const index = this.installsSeen.get(commandUuid) ?? this.installsSeen.size;

    this.installsSeen.set(commandUuid, index);
    if (this.notNowGiven.has(commandUuid)) {
      return false;
    }
    if (
      seededFraction(this.options.seed, device.hardware.udid, 'install', index) >=
      this.options.notNowShare
    ) {
      return false;
    }

    this.notNowGiven.add(commandUuid);

    return true;
  }
}

function unsupported(requestType: string): CommandAnswer {
  return failure(
    'Error',
    errorChainItem(
      UNSUPPORTED_COMMAND,
      MDM_ERROR_DOMAIN,
      `RequestType ${requestType} is not supported by this device`,
    ),
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return 'unknown';
  }
}

function deviceFacts(device: DeviceView): PlistDict {
  const h = device.hardware;
  const facts: PlistDict = {
    UDID: h.udid,
    SerialNumber: h.serialNumber,
    ProductName: h.productName,
    Model: h.model,
    ModelName: h.modelName,
    DeviceName: h.deviceName,
    OSVersion: h.osVersion,
    BuildVersion: h.buildVersion,
    IsSupervised: true,
    IsActivationLockEnabled: device.activationLock?.locked ?? false,
    IsActivationLockSupported: true,
    IsDeviceLocatorServiceEnabled: device.activationLock?.locked ?? false,
    IsCloudBackupEnabled: false,
    IsMDMLostModeEnabled: false,
    IsMultiUser: false,
    AwaitingConfiguration: device.awaitingConfiguration,
    DeviceCapacity: h.capacityGb,
    AvailableDeviceCapacity: Math.round(h.capacityGb * 83.7) / 100,
    WiFiMAC: h.wifiMac,
    BluetoothMAC: h.bluetoothMac,
    TimeZone: 'Europe/Zurich',
    HasBattery: h.hasBattery,
  };

  if (h.hasBattery) {
    facts['BatteryLevel'] = 0.87;
  }
  if (h.ethernetMac) {
    facts['EthernetMAC'] = h.ethernetMac;
  }
  if (h.platform === 'ios') {
    facts['IsRoaming'] = false;
    facts['IsNetworkTethered'] = false;
  }

  return facts;
}

function securityInfo(device: DeviceView): PlistDict {
  const info: PlistDict = {
    HardwareEncryptionCaps: 3,
    PasscodePresent: false,
    PasscodeCompliant: true,
    PasscodeCompliantWithProfiles: true,
    ManagementStatus: {
      EnrolledViaDEP: true,
      IsUserEnrollment: false,
      UserApprovedEnrollment: true,
      IsActivationLockManageable: true,
    },
  };

  if (device.hardware.platform !== 'tvos') {
    info['PasscodeLockGracePeriodEnforced'] = 0;
  }

  return info;
}

function profileRefused(description: string, detail: string): CommandAnswer {
  return failure(
    'Error',
    errorChainItem(PAYLOAD_REFUSED, PROFILE_ERROR_DOMAIN, description),
    errorChainItem(0, PAYLOAD_ERROR_DOMAIN, detail),
  );
}

function installProfile(command: PlistDict, device: DeviceView): CommandAnswer {
  const payload = command['Payload'];

  if (!(payload instanceof Uint8Array)) {
    return failure(
      'CommandFormatError',
      errorChainItem(MALFORMED_COMMAND, MDM_ERROR_DOMAIN, 'InstallProfile needs Payload as <data>'),
    );
  }
  if (isDoubleEncodedProfile(payload)) {
    return failure(
      'Error',
      errorChainItem(PROFILE_UNREADABLE, PROFILE_ERROR_DOMAIN, 'The profile could not be read.'),
      errorChainItem(
        0,
        PROFILE_ERROR_DOMAIN,
        'Payload is base64 text of a profile (encoded twice)',
      ),
    );
  }

  let profile;

  try {
    profile = parseProfile(payload);
  } catch (error) {
    return failure(
      'Error',
      errorChainItem(PROFILE_UNREADABLE, PROFILE_ERROR_DOMAIN, 'The profile could not be read.'),
      errorChainItem(0, PROFILE_ERROR_DOMAIN, describe(error)),
    );
  }

  const installed: InstalledProfile = {
    identifier: profile.payloadIdentifier,
    uuid: profile.payloadUUID,
  };

  if (profile.payloadDisplayName !== undefined) {
    installed.displayName = profile.payloadDisplayName;
  }

  // Other platforms do not know the key and ignore it, as devices do with unknown payload keys.
  if (device.hardware.platform === 'visionos') {
    const wifi = inspectWifiPayloads(profile);

    if (wifi.some((entry) => entry.allowJoinBeforeFirstUnlock === true)) {
      const description = `The Wi-Fi payload of profile ${installed.identifier} could not be installed.`;
      const problem = joinBeforeFirstUnlockProblem(wifi);
      const other = device.profiles.find(
        (entry) => entry.joinsBeforeFirstUnlock && entry.identifier !== installed.identifier,
      );

      if (!device.appPreservationMode) {
        return profileRefused(
          description,
          'AllowJoinBeforeFirstUnlock needs Return to Service with app preservation mode',
        );
      }
      if (problem !== undefined) {
        return profileRefused(description, problem);
      }
      if (other) {
        return profileRefused(
          description,
          `profile ${other.identifier} already sets AllowJoinBeforeFirstUnlock; only one Wi-Fi payload may`,
        );
      }

      installed.joinsBeforeFirstUnlock = true;
    }
  }

  return acknowledged({}, { kind: 'profile-installed', profile: installed });
}

function removeProfile(command: PlistDict, device: DeviceView): CommandAnswer {
  const identifier = command['Identifier'];

  if (typeof identifier !== 'string') {
    return failure(
      'CommandFormatError',
      errorChainItem(MALFORMED_COMMAND, MDM_ERROR_DOMAIN, 'RemoveProfile needs Identifier'),
    );
  }
  if (!device.profiles.some((profile) => profile.identifier === identifier)) {
    return failure(
      'Error',
      errorChainItem(
        PROFILE_NOT_FOUND,
        PROFILE_ERROR_DOMAIN,
        `The profile ${identifier} is not installed.`,
      ),
    );
  }

  return acknowledged({}, { kind: 'profile-removed', identifier });
}

function profileListEntry(profile: InstalledProfile): PlistDict {
  const entry: PlistDict = {
    PayloadIdentifier: profile.identifier,
    PayloadUUID: profile.uuid,
    PayloadVersion: 1,
    IsManaged: true,
    PayloadContent: [],
  };

  if (profile.displayName !== undefined) {
    entry['PayloadDisplayName'] = profile.displayName;
  }

  return entry;
}

function managedApplications(device: DeviceView): PlistDict {
  return Object.fromEntries(
    device.apps.map((app) => [
      app.identifier,
      {
        Status: app.state,
        ManagementFlags: 0,
        HasConfiguration: false,
        HasFeedback: false,
        IsValidated: true,
      },
    ]),
  );
}

function installedApplications(device: DeviceView): PlistDict[] {
  return device.apps
    .filter((app) => app.state !== 'Queued')
    .map((app) => ({
      Identifier: app.identifier,
      Name: app.identifier.split('.').pop() ?? app.identifier,
      ShortVersion: '1.0',
      Version: '1',
      Installing: app.state === 'Installing',
      IsValidated: true,
    }));
}

/**
 * Settings, one result per item. `SharedDeviceConfiguration.TemporarySessionTimeout` is the RTS
 * idle timeout on visionOS (section 12): 0 removes it, 1 to 29 is below Apple's minimum. These
 * iPhones and iPads are not Shared iPads, so they refuse the item.
 */
function settings(command: PlistDict, device: DeviceView): CommandAnswer {
  const items = command['Settings'];

  if (!Array.isArray(items) || !items.every(isPlistDict)) {
    return failure(
      'CommandFormatError',
      errorChainItem(
        MALFORMED_COMMAND,
        MDM_ERROR_DOMAIN,
        'Settings must be an array of dictionaries',
      ),
    );
  }

  const results: PlistDict[] = [];
  const errors: PlistDict[] = [];
  let timeout: number | undefined;

  for (const entry of items) {
    const item = String(entry['Item'] ?? '');
    const problem =
      item === 'SharedDeviceConfiguration' ? sharedDeviceProblem(entry, device) : undefined;

    if (problem !== undefined) {
      const error = errorChainItem(SETTING_REFUSED, SETTINGS_ERROR_DOMAIN, problem);

      errors.push(error);
      results.push({ Item: item, Status: 'Error', ErrorChain: [error] });
      continue;
    }
    if (
      item === 'SharedDeviceConfiguration' &&
      typeof entry['TemporarySessionTimeout'] === 'number'
    ) {
      timeout = entry['TemporarySessionTimeout'];
    }

    results.push({ Item: item, Status: 'Acknowledged' });
  }

  const effect: CommandEffect =
    timeout === undefined
      ? { kind: 'none' }
      : { kind: 'settings', temporarySessionTimeout: timeout };

  if (errors.length > 0) {
    return { status: 'Error', result: { Settings: results, ErrorChain: errors }, effect };
  }

  return acknowledged({ Settings: results }, effect);
}

function sharedDeviceProblem(entry: PlistDict, device: DeviceView): string | undefined {
  if (device.hardware.platform !== 'visionos') {
    return 'SharedDeviceConfiguration is available on Shared iPad and visionOS only';
  }

  const timeout = entry['TemporarySessionTimeout'];

  if (timeout === undefined) {
    return undefined;
  }
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0) {
    return 'TemporarySessionTimeout must be a whole number of seconds, 0 or more';
  }
  if (timeout > 0 && timeout < MINIMUM_SESSION_TIMEOUT) {
    return `TemporarySessionTimeout must be 0 or at least ${MINIMUM_SESSION_TIMEOUT} seconds, got ${timeout}`;
  }

  return undefined;
}

function activationLockBypassCode(device: DeviceView): CommandAnswer {
  // Apple TV has no Activation Lock bypass code (device.activationlock.bypasscode.yaml: tvOS n/a).
  if (device.hardware.platform === 'tvos' || !device.activationLock) {
    return unsupported('ActivationLockBypassCode');
  }

  return acknowledged({ ActivationLockBypassCode: device.activationLock.bypassCode });
}

/** DeviceConfigured releases the device once; a second one finds nothing to release. */
function deviceConfigured(device: DeviceView): CommandAnswer {
  if (!device.awaitingConfiguration) {
    return failure(
      'Error',
      errorChainItem(
        NOT_AWAITING_CONFIGURATION,
        MDM_ERROR_DOMAIN,
        'The device is not awaiting configuration (DeviceConfigured was already acknowledged).',
      ),
    );
  }

  return acknowledged({}, { kind: 'configured' });
}

function eraseDevice(command: PlistDict, device: DeviceView): CommandAnswer {
  const plan = planReturnToService(command['ReturnToService'], command, device.hardware);

  if (!plan) {
    return failure(
      'CommandFormatError',
      errorChainItem(MALFORMED_COMMAND, MDM_ERROR_DOMAIN, 'ReturnToService must be a dictionary'),
    );
  }

  return acknowledged({}, { kind: 'erase', plan });
}
