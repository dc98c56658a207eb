import { describePlistType, isPlistDict, type PlistDict, type PlistValue } from './plist-types.js';

// Tolerant readers for command results (B19). Devices send integers where reals are documented,
// dates where strings are, 'not supported' where a boolean is, NaN reals and unknown keys. None of
// that may block anything: each field is converted when that is unambiguous, set to null when the
// value is present but unusable, and left undefined when absent. Every field that could not be
// read is reported back so the caller can log it.

/** A field that was present but could not be read as its documented type. */
export interface UnreadableField {
  /** Dotted path from the report payload, e.g. `QueryResponses.BatteryLevel`. */
  path: string;
  reason: string;
  raw: PlistValue;
}

/** What an extractor could read, and what it could not. */
export interface Extraction<T> {
  value: T;
  unreadable: UnreadableField[];
}

/** The documented plist type of a field (Apple's schema `type:`). */
export type FieldKind = 'string' | 'boolean' | 'integer' | 'real' | 'date';

/** A field value: `undefined` when absent, `null` when present but unusable. */
type Field<T> = T | null | undefined;

export interface FieldSpec<T> {
  /** Apple's key name. */
  key: string;
  field: keyof T & string;
  kind: FieldKind;
}

function convert(kind: FieldKind, raw: PlistValue): { value: unknown } | { reason: string } {
  switch (kind) {
    case 'string':
      if (typeof raw === 'string') return { value: raw };
      if (typeof raw === 'number' && Number.isFinite(raw)) return { value: String(raw) };
      if (typeof raw === 'bigint') return { value: raw.toString() };
      if (raw instanceof Date) return { value: raw.toISOString() };
      break;
    case 'boolean':
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 0 || raw === 1) return { value: raw === 1 };
      if (raw === 'true' || raw === 'false') return { value: raw === 'true' };
      break;
    case 'integer':
    case 'real':
      if (typeof raw === 'number') {
        return Number.isFinite(raw) ? { value: raw } : { reason: `non-finite number ${raw}` };
      }
      if (typeof raw === 'bigint') {
        return Number.isSafeInteger(Number(raw))
          ? { value: Number(raw) }
          : { reason: `integer ${raw} exceeds the safe range` };
      }
      if (typeof raw === 'string' && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(raw)) {
        return { value: Number(raw) };
      }
      break;
    case 'date':
      if (raw instanceof Date) return { value: raw };
      if (typeof raw === 'string' && !Number.isNaN(Date.parse(raw))) {
        return { value: new Date(raw) };
      }
      break;
  }

  return { reason: `expected ${kind}, got ${describePlistType(raw)}` };
}

function readFields<T>(
  source: PlistDict,
  specs: readonly FieldSpec<T>[],
  pathPrefix: string,
  target: Partial<Record<string, unknown>>,
  unreadable: UnreadableField[],
): void {
  for (const spec of specs) {
    if (!Object.hasOwn(source, spec.key)) continue;

    const raw = source[spec.key] as PlistValue;
    const result = convert(spec.kind, raw);

    if ('value' in result) {
      target[spec.field] = result.value;
    } else {
      target[spec.field] = null;
      unreadable.push({ path: `${pathPrefix}${spec.key}`, reason: result.reason, raw });
    }
  }
}

function guarded<T>(empty: () => T, body: (unreadable: UnreadableField[]) => T): Extraction<T> {
  const unreadable: UnreadableField[] = [];

  try {
    return { value: body(unreadable), unreadable };
  } catch (error) {
    // Unreachable by design; kept so that a bug here can never block a command queue.
    unreadable.push({ path: '', reason: `extraction failed: ${String(error)}`, raw: '' });

    return { value: empty(), unreadable };
  }
}

// ---------------------------------------------------------------- DeviceInformation

/** DeviceInformation QueryResponses, camelCased; see {@link DEVICE_INFORMATION_FIELDS}. */
export interface DeviceInformation {
  udid?: Field<string>;
  serialNumber?: Field<string>;
  productName?: Field<string>;
  model?: Field<string>;
  modelName?: Field<string>;
  modelNumber?: Field<string>;
  deviceName?: Field<string>;
  hostName?: Field<string>;
  localHostName?: Field<string>;
  osVersion?: Field<string>;
  buildVersion?: Field<string>;
  supplementalBuildVersion?: Field<string>;
  supplementalOsVersionExtra?: Field<string>;
  imei?: Field<string>;
  meid?: Field<string>;
  iccid?: Field<string>;
  wifiMac?: Field<string>;
  bluetoothMac?: Field<string>;
  ethernetMac?: Field<string>;
  timeZone?: Field<string>;
  softwareUpdateDeviceId?: Field<string>;
  eacsPreflight?: Field<string>;
  deviceCapacity?: Field<number>;
  availableDeviceCapacity?: Field<number>;
  batteryLevel?: Field<number>;
  cellularTechnology?: Field<number>;
  maximumResidentUsers?: Field<number>;
  estimatedResidentUsers?: Field<number>;
  userSessionTimeout?: Field<number>;
  temporarySessionTimeout?: Field<number>;
  isSupervised?: Field<boolean>;
  isMultiUser?: Field<boolean>;
  isDeviceLocatorServiceEnabled?: Field<boolean>;
  isActivationLockEnabled?: Field<boolean>;
  isActivationLockSupported?: Field<boolean>;
  isCloudBackupEnabled?: Field<boolean>;
  isMdmLostModeEnabled?: Field<boolean>;
  isAppleSilicon?: Field<boolean>;
  isNetworkTethered?: Field<boolean>;
  isRoaming?: Field<boolean>;
  hasBattery?: Field<boolean>;
  awaitingConfiguration?: Field<boolean>;
  temporarySessionOnly?: Field<boolean>;
  lastCloudBackupDate?: Field<Date>;
}

/** QueryResponses keys read by {@link extractDeviceInformation}, with their schema types. */
export const DEVICE_INFORMATION_FIELDS: readonly FieldSpec<DeviceInformation>[] = [
  { key: 'UDID', field: 'udid', kind: 'string' },
  { key: 'SerialNumber', field: 'serialNumber', kind: 'string' },
  { key: 'ProductName', field: 'productName', kind: 'string' },
  { key: 'Model', field: 'model', kind: 'string' },
  { key: 'ModelName', field: 'modelName', kind: 'string' },
  { key: 'ModelNumber', field: 'modelNumber', kind: 'string' },
  { key: 'DeviceName', field: 'deviceName', kind: 'string' },
  { key: 'HostName', field: 'hostName', kind: 'string' },
  { key: 'LocalHostName', field: 'localHostName', kind: 'string' },
  { key: 'OSVersion', field: 'osVersion', kind: 'string' },
  { key: 'BuildVersion', field: 'buildVersion', kind: 'string' },
  { key: 'SupplementalBuildVersion', field: 'supplementalBuildVersion', kind: 'string' },
  { key: 'SupplementalOSVersionExtra', field: 'supplementalOsVersionExtra', kind: 'string' },
  { key: 'IMEI', field: 'imei', kind: 'string' },
  { key: 'MEID', field: 'meid', kind: 'string' },
  { key: 'ICCID', field: 'iccid', kind: 'string' },
  { key: 'WiFiMAC', field: 'wifiMac', kind: 'string' },
  { key: 'BluetoothMAC', field: 'bluetoothMac', kind: 'string' },
  { key: 'EthernetMAC', field: 'ethernetMac', kind: 'string' },
  { key: 'TimeZone', field: 'timeZone', kind: 'string' },
  { key: 'SoftwareUpdateDeviceID', field: 'softwareUpdateDeviceId', kind: 'string' },
  { key: 'EACSPreflight', field: 'eacsPreflight', kind: 'string' },
  { key: 'DeviceCapacity', field: 'deviceCapacity', kind: 'real' },
  { key: 'AvailableDeviceCapacity', field: 'availableDeviceCapacity', kind: 'real' },
  { key: 'BatteryLevel', field: 'batteryLevel', kind: 'real' },
  { key: 'CellularTechnology', field: 'cellularTechnology', kind: 'integer' },
  { key: 'MaximumResidentUsers', field: 'maximumResidentUsers', kind: 'integer' },
  { key: 'EstimatedResidentUsers', field: 'estimatedResidentUsers', kind: 'integer' },
  { key: 'UserSessionTimeout', field: 'userSessionTimeout', kind: 'integer' },
  { key: 'TemporarySessionTimeout', field: 'temporarySessionTimeout', kind: 'integer' },
  { key: 'IsSupervised', field: 'isSupervised', kind: 'boolean' },
  { key: 'IsMultiUser', field: 'isMultiUser', kind: 'boolean' },
  { key: 'IsDeviceLocatorServiceEnabled', field: 'isDeviceLocatorServiceEnabled', kind: 'boolean' },
  { key: 'IsActivationLockEnabled', field: 'isActivationLockEnabled', kind: 'boolean' },
  { key: 'IsActivationLockSupported', field: 'isActivationLockSupported', kind: 'boolean' },
  { key: 'IsCloudBackupEnabled', field: 'isCloudBackupEnabled', kind: 'boolean' },
  { key: 'IsMDMLostModeEnabled', field: 'isMdmLostModeEnabled', kind: 'boolean' },
  { key: 'IsAppleSilicon', field: 'isAppleSilicon', kind: 'boolean' },
  { key: 'IsNetworkTethered', field: 'isNetworkTethered', kind: 'boolean' },
  { key: 'IsRoaming', field: 'isRoaming', kind: 'boolean' },
  { key: 'HasBattery', field: 'hasBattery', kind: 'boolean' },
  { key: 'AwaitingConfiguration', field: 'awaitingConfiguration', kind: 'boolean' },
  { key: 'TemporarySessionOnly', field: 'temporarySessionOnly', kind: 'boolean' },
  { key: 'LastCloudBackupDate', field: 'lastCloudBackupDate', kind: 'date' },
];

function containerOf(
  payload: unknown,
  key: string,
  unreadable: UnreadableField[],
): PlistDict | undefined {
  if (!isPlistDict(payload)) {
    unreadable.push({
      path: '',
      reason: `expected a dictionary, got ${describePlistType(payload)}`,
      raw: '',
    });

    return undefined;
  }

  const container = payload[key];

  if (container === undefined) return undefined;
  if (isPlistDict(container)) return container;

  unreadable.push({
    path: key,
    reason: `expected a dictionary, got ${describePlistType(container)}`,
    raw: container,
  });

  return undefined;
}

/**
 * Reads `QueryResponses` of a DeviceInformation result (pass the report's `payload`). Never
 * throws; see {@link UnreadableField} for what could not be read.
 */
export function extractDeviceInformation(payload: PlistDict): Extraction<DeviceInformation> {
  return guarded<DeviceInformation>(
    () => ({}),
    (unreadable) => {
      const info: DeviceInformation = {};
      const responses = containerOf(payload, 'QueryResponses', unreadable);

      if (responses !== undefined) {
        readFields(
          responses,
          DEVICE_INFORMATION_FIELDS,
          'QueryResponses.',
          info as Record<string, unknown>,
          unreadable,
        );
      }

      return info;
    },
  );
}

// ---------------------------------------------------------------- SecurityInfo

/** SecurityInfo result fields, camelCased; ManagementStatus fields are flattened in. */
export interface SecurityInfo {
  hardwareEncryptionCaps?: Field<number>;
  passcodePresent?: Field<boolean>;
  passcodeCompliant?: Field<boolean>;
  passcodeCompliantWithProfiles?: Field<boolean>;
  passcodeLockGracePeriod?: Field<number>;
  passcodeLockGracePeriodEnforced?: Field<number>;
  autoLockTime?: Field<number>;
  fdeEnabled?: Field<boolean>;
  fdeHasPersonalRecoveryKey?: Field<boolean>;
  fdeHasInstitutionalRecoveryKey?: Field<boolean>;
  systemIntegrityProtectionEnabled?: Field<boolean>;
  remoteDesktopEnabled?: Field<boolean>;
  authenticatedRootVolumeEnabled?: Field<boolean>;
  isRecoveryLockEnabled?: Field<boolean>;
  bootstrapTokenAllowedForAuthentication?: Field<string>;
  bootstrapTokenRequiredForSoftwareUpdate?: Field<boolean>;
  bootstrapTokenRequiredForKernelExtensionApproval?: Field<boolean>;
  /** From `ManagementStatus`. */
  enrolledViaDep?: Field<boolean>;
  userApprovedEnrollment?: Field<boolean>;
  isUserEnrollment?: Field<boolean>;
  isActivationLockManageable?: Field<boolean>;
}

/** SecurityInfo keys read by {@link extractSecurityInfo}. */
export const SECURITY_INFO_FIELDS: readonly FieldSpec<SecurityInfo>[] = [
  { key: 'HardwareEncryptionCaps', field: 'hardwareEncryptionCaps', kind: 'integer' },
  { key: 'PasscodePresent', field: 'passcodePresent', kind: 'boolean' },
  { key: 'PasscodeCompliant', field: 'passcodeCompliant', kind: 'boolean' },
  { key: 'PasscodeCompliantWithProfiles', field: 'passcodeCompliantWithProfiles', kind: 'boolean' },
  { key: 'PasscodeLockGracePeriod', field: 'passcodeLockGracePeriod', kind: 'integer' },
  {
    key: 'PasscodeLockGracePeriodEnforced',
    field: 'passcodeLockGracePeriodEnforced',
    kind: 'integer',
  },
  { key: 'AutoLockTime', field: 'autoLockTime', kind: 'integer' },
  { key: 'FDE_Enabled', field: 'fdeEnabled', kind: 'boolean' },
  { key: 'FDE_HasPersonalRecoveryKey', field: 'fdeHasPersonalRecoveryKey', kind: 'boolean' },
  {
    key: 'FDE_HasInstitutionalRecoveryKey',
    field: 'fdeHasInstitutionalRecoveryKey',
    kind: 'boolean',
  },
  {
    key: 'SystemIntegrityProtectionEnabled',
    field: 'systemIntegrityProtectionEnabled',
    kind: 'boolean',
  },
  { key: 'RemoteDesktopEnabled', field: 'remoteDesktopEnabled', kind: 'boolean' },
  {
    key: 'AuthenticatedRootVolumeEnabled',
    field: 'authenticatedRootVolumeEnabled',
    kind: 'boolean',
  },
  { key: 'IsRecoveryLockEnabled', field: 'isRecoveryLockEnabled', kind: 'boolean' },
  {
    key: 'BootstrapTokenAllowedForAuthentication',
    field: 'bootstrapTokenAllowedForAuthentication',
    kind: 'string',
  },
  {
    key: 'BootstrapTokenRequiredForSoftwareUpdate',
    field: 'bootstrapTokenRequiredForSoftwareUpdate',
    kind: 'boolean',
  },
  {
    key: 'BootstrapTokenRequiredForKernelExtensionApproval',
    field: 'bootstrapTokenRequiredForKernelExtensionApproval',
    kind: 'boolean',
  },
];

/** ManagementStatus keys read by {@link extractSecurityInfo}. */
export const MANAGEMENT_STATUS_FIELDS: readonly FieldSpec<SecurityInfo>[] = [
  { key: 'EnrolledViaDEP', field: 'enrolledViaDep', kind: 'boolean' },
  { key: 'UserApprovedEnrollment', field: 'userApprovedEnrollment', kind: 'boolean' },
  { key: 'IsUserEnrollment', field: 'isUserEnrollment', kind: 'boolean' },
  { key: 'IsActivationLockManageable', field: 'isActivationLockManageable', kind: 'boolean' },
];

/**
 * Reads the `SecurityInfo` dictionary of a SecurityInfo result (pass the report's `payload`),
 * including `ManagementStatus`. Never throws.
 */
export function extractSecurityInfo(payload: PlistDict): Extraction<SecurityInfo> {
  return guarded<SecurityInfo>(
    () => ({}),
    (unreadable) => {
      const info: SecurityInfo = {};
      const security = containerOf(payload, 'SecurityInfo', unreadable);

      if (security === undefined) return info;

      const target = info as Record<string, unknown>;

      readFields(security, SECURITY_INFO_FIELDS, 'SecurityInfo.', target, unreadable);

      const status = security['ManagementStatus'];

      if (isPlistDict(status)) {
        readFields(
          status,
          MANAGEMENT_STATUS_FIELDS,
          'SecurityInfo.ManagementStatus.',
          target,
          unreadable,
        );
      } else if (status !== undefined) {
        unreadable.push({
          path: 'SecurityInfo.ManagementStatus',
          reason: `expected a dictionary, got ${describePlistType(status)}`,
          raw: status,
        });
      }

      return info;
    },
  );
}

// ---------------------------------------------------------------- applications

/** One app from a ManagedApplicationList or InstalledApplicationList result. */
export interface ApplicationEntry {
  /** Which result list the entry came from. */
  list: 'ManagedApplicationList' | 'InstalledApplicationList';
  /** Bundle identifier; the dictionary key in ManagedApplicationList. May be absent (web apps). */
  identifier?: Field<string>;
  name?: Field<string>;
  version?: Field<string>;
  shortVersion?: Field<string>;
  path?: Field<string>;
  distributorIdentifier?: Field<string>;
  source?: Field<string>;
  bundleSize?: Field<number>;
  dynamicSize?: Field<number>;
  externalVersionIdentifier?: Field<number>;
  isValidated?: Field<boolean>;
  installing?: Field<boolean>;
  appStoreVendable?: Field<boolean>;
  deviceBasedVpp?: Field<boolean>;
  betaApp?: Field<boolean>;
  adHocCodeSigned?: Field<boolean>;
  hasUpdateAvailable?: Field<boolean>;
  isAppClip?: Field<boolean>;
  /** ManagedApplicationList only: `Managed`, `Installing`, `Failed`, ... */
  status?: Field<string>;
  managementFlags?: Field<number>;
  unusedRedemptionCode?: Field<string>;
  hasConfiguration?: Field<boolean>;
  hasFeedback?: Field<boolean>;
}

/** InstalledApplicationList item keys read by {@link extractManagedApplications}. */
export const INSTALLED_APPLICATION_FIELDS: readonly FieldSpec<ApplicationEntry>[] = [
  { key: 'Identifier', field: 'identifier', kind: 'string' },
  { key: 'Name', field: 'name', kind: 'string' },
  { key: 'Version', field: 'version', kind: 'string' },
  { key: 'ShortVersion', field: 'shortVersion', kind: 'string' },
  { key: 'Path', field: 'path', kind: 'string' },
  { key: 'DistributorIdentifier', field: 'distributorIdentifier', kind: 'string' },
  { key: 'Source', field: 'source', kind: 'string' },
  { key: 'BundleSize', field: 'bundleSize', kind: 'integer' },
  { key: 'DynamicSize', field: 'dynamicSize', kind: 'integer' },
  { key: 'ExternalVersionIdentifier', field: 'externalVersionIdentifier', kind: 'integer' },
  { key: 'IsValidated', field: 'isValidated', kind: 'boolean' },
  { key: 'Installing', field: 'installing', kind: 'boolean' },
  { key: 'AppStoreVendable', field: 'appStoreVendable', kind: 'boolean' },
  { key: 'DeviceBasedVPP', field: 'deviceBasedVpp', kind: 'boolean' },
  { key: 'BetaApp', field: 'betaApp', kind: 'boolean' },
  { key: 'AdHocCodeSigned', field: 'adHocCodeSigned', kind: 'boolean' },
  { key: 'HasUpdateAvailable', field: 'hasUpdateAvailable', kind: 'boolean' },
  { key: 'IsAppClip', field: 'isAppClip', kind: 'boolean' },
];

/** ManagedApplicationList per-app keys read by {@link extractManagedApplications}. */
export const MANAGED_APPLICATION_FIELDS: readonly FieldSpec<ApplicationEntry>[] = [
  { key: 'Status', field: 'status', kind: 'string' },
  { key: 'ManagementFlags', field: 'managementFlags', kind: 'integer' },
  { key: 'UnusedRedemptionCode', field: 'unusedRedemptionCode', kind: 'string' },
  { key: 'HasConfiguration', field: 'hasConfiguration', kind: 'boolean' },
  { key: 'HasFeedback', field: 'hasFeedback', kind: 'boolean' },
  { key: 'IsValidated', field: 'isValidated', kind: 'boolean' },
  { key: 'ExternalVersionIdentifier', field: 'externalVersionIdentifier', kind: 'integer' },
];

/**
 * Lists the apps of a ManagedApplicationList result (dictionary keyed by bundle identifier) and/or
 * an InstalledApplicationList result (array), in that order. Pass the report's `payload`. Entries
 * that are not dictionaries are skipped and reported; never throws.
 */
export function extractManagedApplications(payload: PlistDict): Extraction<ApplicationEntry[]> {
  return guarded<ApplicationEntry[]>(
    () => [],
    (unreadable) => {
      const apps: ApplicationEntry[] = [];
      const managed = containerOf(payload, 'ManagedApplicationList', unreadable);

      if (managed !== undefined) {
        for (const [identifier, entry] of Object.entries(managed)) {
          const path = `ManagedApplicationList.${identifier}`;

          if (!isPlistDict(entry)) {
            unreadable.push({
              path,
              reason: `expected a dictionary, got ${describePlistType(entry)}`,
              raw: entry,
            });
            continue;
          }

          const app: ApplicationEntry = { list: 'ManagedApplicationList', identifier };

          readFields(
            entry,
            MANAGED_APPLICATION_FIELDS,
            `${path}.`,
            app as unknown as Record<string, unknown>,
            unreadable,
          );
          apps.push(app);
        }
      }

      const installed = isPlistDict(payload) ? payload['InstalledApplicationList'] : undefined;

      if (Array.isArray(installed)) {
        installed.forEach((entry, index) => {
          const path = `InstalledApplicationList[${index}]`;

          if (!isPlistDict(entry)) {
            unreadable.push({
              path,
              reason: `expected a dictionary, got ${describePlistType(entry)}`,
              raw: entry,
            });

            return;
          }

          const app: ApplicationEntry = { list: 'InstalledApplicationList' };

          readFields(
            entry,
            INSTALLED_APPLICATION_FIELDS,
            `${path}.`,
            app as unknown as Record<string, unknown>,
            unreadable,
          );
          apps.push(app);
        });
      } else if (installed !== undefined) {
        unreadable.push({
          path: 'InstalledApplicationList',
          reason: `expected an array, got ${describePlistType(installed)}`,
          raw: installed,
        });
      }

      return apps;
    },
  );
}
