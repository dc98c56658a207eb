import {
  inspectWifiPayloads,
  isPlistDict,
  parseProfile,
  readEnrollmentProfile,
  type CommandEnvelope,
  type PlistDict,
  type PlistValue,
} from '@turnaround/protocol';

import type { Hardware } from './hardware.js';
import { seededFraction } from './random.js';

/** A profile the device has installed, as ProfileList reports it. */
export interface InstalledProfile {
  identifier: string;
  uuid: string;
  displayName?: string;
}

export interface ManagedApp {
  identifier: string;
  state: 'Installing' | 'Managed';
}

/** What the responder may look at: the device as it is when the command arrives. */
export interface DeviceView {
  hardware: Hardware;
  awaitingConfiguration: boolean;
  profiles: readonly InstalledProfile[];
  apps: readonly ManagedApp[];
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
}

export type CommandEffect =
  | { kind: 'none' }
  | { kind: 'configured' }
  | { kind: 'profile-installed'; profile: InstalledProfile }
  | { kind: 'profile-removed'; identifier: string }
  | { kind: 'app-installing'; identifier: string }
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
const UNSUPPORTED_COMMAND = 12021;
const MALFORMED_COMMAND = 12001;
const PROFILE_UNREADABLE = 1000;
const PROFILE_NOT_FOUND = 1003;

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
 * Answers commands the way an iPhone, iPad or Apple TV in a shared fleet does. One responder per
 * device: it remembers which app installs it put off with NotNow.
 */
export class CommandResponder {
  private readonly installsSeen = new Map<string, number>();
  private readonly notNowGiven = new Set<string>();

  constructor(private readonly options: CommandResponderOptions) {}

  answer(envelope: CommandEnvelope, device: DeviceView): CommandAnswer {
    const command = envelope.command;

    switch (envelope.requestType) {
      case 'DeviceInformation':
        return this.deviceInformation(command, device);
      case 'SecurityInfo':
        return acknowledged({ SecurityInfo: securityInfo(device) });
      case 'InstallProfile':
        return installProfile(command);
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
        return settings(command);
      case 'DeviceConfigured':
        return acknowledged({}, { kind: 'configured' });
      case 'EraseDevice':
        return eraseDevice(command, device);
      default:
        return failure(
          'Error',
          errorChainItem(
            UNSUPPORTED_COMMAND,
            MDM_ERROR_DOMAIN,
            `RequestType ${envelope.requestType} is not supported by this device`,
          ),
        );
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

    // The install counter (not the random CommandUUID) keys the draw, so the same seed puts off
    // the same installs in every run.
    const index = this.installsSeen.get(envelope.commandUuid) ?? this.installsSeen.size;

    this.installsSeen.set(envelope.commandUuid, index);
    if (!this.notNowGiven.has(envelope.commandUuid)) {
      const draw = seededFraction(this.options.seed, device.hardware.udid, 'install', index);

      if (draw < this.options.notNowShare) {
        this.notNowGiven.add(envelope.commandUuid);

        return { status: 'NotNow', result: {}, effect: { kind: 'none' } };
      }
    }

    return acknowledged(
      { Identifier: identifier, State: 'Installing' },
      { kind: 'app-installing', identifier },
    );
  }
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
    IsActivationLockEnabled: false,
    IsActivationLockSupported: true,
    IsDeviceLocatorServiceEnabled: false,
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

function installProfile(command: PlistDict): CommandAnswer {
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

  try {
    const profile = parseProfile(payload);
    const installed: InstalledProfile = {
      identifier: profile.payloadIdentifier,
      uuid: profile.payloadUUID,
    };

    if (profile.payloadDisplayName !== undefined) {
      installed.displayName = profile.payloadDisplayName;
    }

    return acknowledged({}, { kind: 'profile-installed', profile: installed });
  } catch (error) {
    return failure(
      'Error',
      errorChainItem(PROFILE_UNREADABLE, PROFILE_ERROR_DOMAIN, 'The profile could not be read.'),
      errorChainItem(0, PROFILE_ERROR_DOMAIN, describe(error)),
    );
  }
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
  return device.apps.map((app) => ({
    Identifier: app.identifier,
    Name: app.identifier.split('.').pop() ?? app.identifier,
    ShortVersion: '1.0',
    Version: '1',
    Installing: app.state === 'Installing',
    IsValidated: true,
  }));
}

function settings(command: PlistDict): CommandAnswer {
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

  return acknowledged({
    Settings: items.map((item) => ({ Item: String(item['Item'] ?? ''), Status: 'Acknowledged' })),
  });
}

/**
 * Apple: the device acknowledges an erase at once and only then finds out whether it can get
 * back online, so a bad Wi-Fi profile still gets Acknowledged and strands the device afterwards.
 */
function eraseDevice(command: PlistDict, device: DeviceView): CommandAnswer {
  const rts = command['ReturnToService'];

  if (rts !== undefined && !isPlistDict(rts)) {
    return failure(
      'CommandFormatError',
      errorChainItem(MALFORMED_COMMAND, MDM_ERROR_DOMAIN, 'ReturnToService must be a dictionary'),
    );
  }
  if (rts === undefined || rts['Enabled'] !== true) {
    return acknowledged(
      {},
      {
        kind: 'erase',
        plan: {
          returnToService: false,
          strandedBecause:
            'erased without Return to Service: the device waits in Setup Assistant for a person',
          ssids: [],
        },
      },
    );
  }

  const network = checkWifiProfileData(rts['WiFiProfileData'], device.hardware);
  const plan: ErasePlan = { returnToService: true, ssids: network.ok ? network.ssids : [] };
  const mdmProfile = rts['MDMProfileData'];

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

  return acknowledged({}, { kind: 'erase', plan });
}
