import {
  JsonReader,
  definedOnly,
  describeJsonType,
  isJsonObject,
  parseJsonInput,
  quoteKey,
  requireJsonObject,
  type JsonObject,
} from './json-access.js';
import { ProtocolError } from './protocol.errors.js';

// Readers for Apple's Device Assignment (Automated Device Enrollment) service JSON. Typed fields
// are camelCase renderings of Apple's snake_case keys with acronyms in lower case
// (configuration_web_url → configurationWebUrl, is_mdm_removable → isMdmRemovable); `raw` keeps
// the object as given, unknown keys included. Dates stay the strings Apple sent
// (`2018-09-08T16:49:09Z`): they are compared and stored, never computed with, at this layer.

const CODE = 'ADE.MALFORMED';

/** `profile_status` values Apple documents; `''` is seen in real responses too. */
export const ADE_PROFILE_STATUSES = ['empty', 'assigned', 'pushed', 'removed', ''] as const;

/** An ADE profile: a definition (`POST /profile` body) or a fetched one (`GET /profile`). */
export interface AdeProfile {
  profileName: string;
  /** Where the device POSTs its signed MachineInfo to fetch the enrollment profile. */
  url?: string;
  configurationWebUrl?: string;
  isReturnToService?: boolean;
  awaitDeviceConfigured?: boolean;
  /**
   * What the device will do: Apple forces await_device_configured on whenever
   * is_return_to_service is true.
   */
  effectiveAwaitDeviceConfigured: boolean;
  isSupervised?: boolean;
  isMandatory?: boolean;
  isMdmRemovable?: boolean;
  isMultiUser?: boolean;
  doNotUseProfileFromBackup?: boolean;
  allowPairing?: boolean;
  autoAdvanceSetup?: boolean;
  skipSetupItems?: string[];
  language?: string;
  region?: string;
  department?: string;
  supportPhoneNumber?: string;
  supportEmailAddress?: string;
  orgMagic?: string;
  /** Serial numbers (definitions only). */
  devices?: string[];
  /** Base64 DER certificates, as given. */
  anchorCerts?: string[];
  supervisingHostCerts?: string[];
  /** Set on fetched profiles: 32 upper-case hex digits, no dashes. */
  profileUuid?: string;
  raw: JsonObject;
}

/** One device record of a devices fetch or sync response. */
export interface AdeDevice {
  serialNumber: string;
  model?: string;
  description?: string;
  color?: string;
  assetTag?: string;
  /**
   * As given: one of {@link ADE_PROFILE_STATUSES} in practice, `''` included (not normalised to
   * `empty`); absent on some sync records.
   */
  profileStatus?: string;
  profileUuid?: string;
  profileAssignTime?: string;
  profilePushTime?: string;
  deviceAssignedDate?: string;
  deviceAssignedBy?: string;
  os?: string;
  deviceFamily?: string;
  /** Sync responses only: `added`, `modified` or `deleted`. */
  opType?: string;
  opDate?: string;
  mdmMigrationDeadline?: string;
  raw: JsonObject;
}

/** A `POST /server/devices` (fetch) or `POST /devices/sync` response page. */
export interface AdeDeviceList {
  devices: AdeDevice[];
  cursor?: string;
  /** `false` when the key is absent. */
  moreToFollow: boolean;
  fetchedUntil?: string;
  raw: JsonObject;
}

/** One entry of a `POST /devices` (details) response. */
export interface AdeDeviceDetail extends AdeDevice {
  /** `SUCCESS`, `NOT_ACCESSIBLE`, `NOT_FOUND`… as given. */
  responseStatus?: string;
}

/** A `POST /devices` response: details keyed by the serial numbers that were asked for. */
export interface AdeDeviceDetails {
  /** Own keys only (built with `Object.fromEntries`), so any serial string is a safe key. */
  devices: Record<string, AdeDeviceDetail>;
  raw: JsonObject;
}

/** An entry of the account's `urls` list: an endpoint this server token may call. */
export interface AdeAccountUrl {
  uri: string;
  httpMethods: string[];
  limit?: { default?: number; maximum?: number };
  raw: JsonObject;
}

/** A `GET /account` response. */
export interface AdeAccount {
  serverUuid: string;
  serverName?: string;
  adminId?: string;
  facilitatorId?: string;
  orgName?: string;
  orgEmail?: string;
  orgPhone?: string;
  orgAddress?: string;
  orgId?: string;
  orgIdHash?: string;
  /** `edu` or `org`. */
  orgType?: string;
  /** `v1` (Apple Deployment Programs) or `v2` (Apple School/Business Manager). */
  orgVersion?: string;
  urls: AdeAccountUrl[];
  raw: JsonObject;
}

/** A `POST /profile` response: the new profile's UUID and a status per requested serial. */
export interface AdeProfileAssignment {
  profileUuid: string;
  /** Serial → `SUCCESS`, `NOT_ACCESSIBLE`, `FAILED`… as given; own keys only. */
  devices: Record<string, string>;
  raw: JsonObject;
}

function root(json: unknown, what: string): JsonReader {
  const object = requireJsonObject(parseJsonInput(json, CODE, what), CODE, what);

  return new JsonReader(object, CODE, what);
}

/**
 * Reads an ADE profile definition (`POST /profile` body) or a fetched profile (`GET /profile`
 * response). Accepts the parsed JSON, or its text or UTF-8 bytes.
 *
 * Throws `ADE.MALFORMED` when the input is not a JSON object, `profile_name` is missing, or a
 * known key has the wrong type (null included); the message names the key. Unknown keys are kept
 * in `raw` only.
 */
export function readAdeProfile(json: unknown): AdeProfile {
  const r = root(json, 'ADE profile');
  const isReturnToService = r.optionalBoolean('is_return_to_service');
  const awaitDeviceConfigured = r.optionalBoolean('await_device_configured');

  return definedOnly<AdeProfile>(
    {
      profileName: r.requiredString('profile_name'),
      effectiveAwaitDeviceConfigured: isReturnToService === true || awaitDeviceConfigured === true,
      raw: r.object,
    },
    {
      url: r.optionalString('url'),
      configurationWebUrl: r.optionalString('configuration_web_url'),
      isReturnToService,
      awaitDeviceConfigured,
      isSupervised: r.optionalBoolean('is_supervised'),
      isMandatory: r.optionalBoolean('is_mandatory'),
      isMdmRemovable: r.optionalBoolean('is_mdm_removable'),
      isMultiUser: r.optionalBoolean('is_multi_user'),
      doNotUseProfileFromBackup: r.optionalBoolean('do_not_use_profile_from_backup'),
      allowPairing: r.optionalBoolean('allow_pairing'),
      autoAdvanceSetup: r.optionalBoolean('auto_advance_setup'),
      skipSetupItems: r.optionalStringArray('skip_setup_items'),
      language: r.optionalString('language'),
      region: r.optionalString('region'),
      department: r.optionalString('department'),
      supportPhoneNumber: r.optionalString('support_phone_number'),
      supportEmailAddress: r.optionalString('support_email_address'),
      orgMagic: r.optionalString('org_magic'),
      devices: r.optionalStringArray('devices'),
      anchorCerts: r.optionalStringArray('anchor_certs'),
      supervisingHostCerts: r.optionalStringArray('supervising_host_certs'),
      profileUuid: r.optionalString('profile_uuid'),
    },
  );
}

function deviceFields(r: JsonReader): Omit<AdeDevice, 'serialNumber' | 'raw'> {
  return definedOnly<Omit<AdeDevice, 'serialNumber' | 'raw'>>(
    {},
    {
      model: r.optionalString('model'),
      description: r.optionalString('description'),
      color: r.optionalString('color'),
      assetTag: r.optionalString('asset_tag'),
      profileStatus: r.optionalString('profile_status'),
      profileUuid: r.optionalString('profile_uuid'),
      profileAssignTime: r.optionalString('profile_assign_time'),
      profilePushTime: r.optionalString('profile_push_time'),
      deviceAssignedDate: r.optionalString('device_assigned_date'),
      deviceAssignedBy: r.optionalString('device_assigned_by'),
      os: r.optionalString('os'),
      deviceFamily: r.optionalString('device_family'),
      opType: r.optionalString('op_type'),
      opDate: r.optionalString('op_date'),
      mdmMigrationDeadline: r.optionalString('mdm_migration_deadline'),
    },
  );
}

function readDevice(entry: JsonObject, index: number): AdeDevice {
  const r = new JsonReader(entry, CODE, `ADE device list devices[${index}]`);

  return { serialNumber: r.requiredString('serial_number'), ...deviceFields(r), raw: entry };
}

/**
 * Reads a devices fetch (`POST /server/devices`) or sync (`POST /devices/sync`) response page.
 * Accepts the parsed JSON, or its text or UTF-8 bytes. An absent `devices` list reads as empty.
 *
 * Throws `ADE.MALFORMED` when the input is not a JSON object, `devices` is not an array of
 * objects, a device has no `serial_number`, or a known key has the wrong type (null included).
 */
export function readAdeDeviceList(json: unknown): AdeDeviceList {
  const r = root(json, 'ADE device list');

  return definedOnly<AdeDeviceList>(
    {
      devices: r.optionalObjectArray('devices', readDevice) ?? [],
      moreToFollow: r.optionalBoolean('more_to_follow') ?? false,
      raw: r.object,
    },
    { cursor: r.optionalString('cursor'), fetchedUntil: r.optionalString('fetched_until') },
  );
}

/**
 * Reads a device details response (`POST /devices`): an object of device records keyed by serial
 * number. A record without `serial_number` (e.g. a `NOT_FOUND` one) takes its key.
 *
 * Throws `ADE.MALFORMED` when the input or `devices` is not an object, an entry is not an object,
 * or a known key has the wrong type (null included).
 */
export function readAdeDeviceDetails(json: unknown): AdeDeviceDetails {
  const r = root(json, 'ADE device details');
  const devices = r.optionalObject('devices') ?? {};
  const entries = Object.entries(devices).map(([serial, entry]): [string, AdeDeviceDetail] => {
    const context = `ADE device details devices.${quoteKey(serial)}`;

    if (!isJsonObject(entry)) {
      throw new ProtocolError(CODE, `${context} must be an object, got ${describeJsonType(entry)}`);
    }

    const d = new JsonReader(entry, CODE, context);
    const detail = definedOnly<AdeDeviceDetail>(
      { serialNumber: d.optionalString('serial_number') ?? serial, ...deviceFields(d), raw: entry },
      { responseStatus: d.optionalString('response_status') },
    );

    return [serial, detail];
  });

  return { devices: Object.fromEntries(entries), raw: r.object };
}

function readAccountUrl(entry: JsonObject, index: number): AdeAccountUrl {
  const r = new JsonReader(entry, CODE, `ADE account urls[${index}]`);
  const limit = r.optionalObject('limit');
  const url: AdeAccountUrl = {
    uri: r.requiredString('uri'),
    httpMethods: r.optionalStringArray('http_method') ?? [],
    raw: entry,
  };

  if (limit !== undefined) {
    const l = new JsonReader(limit, CODE, `ADE account urls[${index}].limit`);

    url.limit = definedOnly(
      {},
      { default: l.optionalNumber('default'), maximum: l.optionalNumber('maximum') },
    );
  }

  return url;
}

/**
 * Reads a `GET /account` response. Accepts the parsed JSON, or its text or UTF-8 bytes.
 *
 * Throws `ADE.MALFORMED` when the input is not a JSON object, `server_uuid` is missing, `urls` is
 * not an array of objects each with a `uri`, or a known key has the wrong type (null included).
 */
export function readAdeAccount(json: unknown): AdeAccount {
  const r = root(json, 'ADE account');

  return definedOnly<AdeAccount>(
    {
      serverUuid: r.requiredString('server_uuid'),
      urls: r.optionalObjectArray('urls', readAccountUrl) ?? [],
      raw: r.object,
    },
    {
      serverName: r.optionalString('server_name'),
      adminId: r.optionalString('admin_id'),
      facilitatorId: r.optionalString('facilitator_id'),
      orgName: r.optionalString('org_name'),
      orgEmail: r.optionalString('org_email'),
      orgPhone: r.optionalString('org_phone'),
      orgAddress: r.optionalString('org_address'),
      orgId: r.optionalString('org_id'),
      orgIdHash: r.optionalString('org_id_hash'),
      orgType: r.optionalString('org_type'),
      orgVersion: r.optionalString('org_version'),
    },
  );
}

/**
 * Reads a `POST /profile` response: `profile_uuid` and the per-serial assignment status map.
 *
 * Throws `ADE.MALFORMED` when the input is not a JSON object, `profile_uuid` is missing, or
 * `devices` is not an object of strings.
 */
export function readAdeProfileAssignment(json: unknown): AdeProfileAssignment {
  const r = root(json, 'ADE profile assignment');
  const profileUuid = r.requiredString('profile_uuid');
  const devices = Object.entries(r.optionalObject('devices') ?? {}).map(([serial, status]) => {
    if (typeof status !== 'string') {
      throw new ProtocolError(
        CODE,
        `ADE profile assignment: devices.${quoteKey(serial)} must be a string, ` +
          `got ${describeJsonType(status)}`,
      );
    }

    return [serial, status] as const;
  });

  return { profileUuid, devices: Object.fromEntries(devices), raw: r.object };
}
