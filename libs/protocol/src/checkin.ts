import { DictReader, requireDict } from './plist-access.js';
import { decodePlist } from './plist-codec.js';
import type { PlistDict, PlistLimits, PlistValue } from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';
import { hasDeviceIdentifier, type ChannelIdentifiers } from './channel.js';

// Field naming: typed fields are camelCase renderings of Apple's key names with acronyms in lower
// case (UDID → udid, EnrollmentID → enrollmentId, OSVersion → osVersion, IMEI → imei). `raw`
// always holds the dictionary exactly as decoded, under Apple's names.

/** The check-in MessageTypes this library understands (mdm/checkin/*.yaml). */
export const CHECKIN_MESSAGE_TYPES = [
  'Authenticate',
  'TokenUpdate',
  'CheckOut',
  'SetBootstrapToken',
  'GetBootstrapToken',
  'ReturnToService',
  'DeclarativeManagement',
  'UserAuthenticate',
  'GetToken',
] as const;

export type CheckInMessageType = (typeof CHECKIN_MESSAGE_TYPES)[number];

/** Identifiers and raw dictionary shared by every check-in message. */
export interface CheckInCommon extends ChannelIdentifiers {
  /** The decoded dictionary, untouched, under Apple's key names. */
  raw: PlistDict;
}

export interface AuthenticateMessage extends CheckInCommon {
  messageType: 'Authenticate';
  topic: string;
  osVersion?: string;
  buildVersion?: string;
  productName?: string;
  serialNumber?: string;
  imei?: string;
  meid?: string;
  /** macOS only. */
  deviceName?: string;
  model?: string;
  modelName?: string;
}

export interface TokenUpdateMessage extends CheckInCommon {
  messageType: 'TokenUpdate';
  topic: string;
  token: Uint8Array;
  pushMagic: string;
  /** Absent does not revoke a stored UnlockToken (Apple's Token Update notes). */
  unlockToken?: Uint8Array;
  /** `false` when the key is absent (schema default). */
  awaitingConfiguration: boolean;
  notOnConsole?: boolean;
}

export interface CheckOutMessage extends CheckInCommon {
  messageType: 'CheckOut';
  topic?: string;
}

/**
 * What a SetBootstrapToken asks for (B09): a present, non-empty token replaces the stored one; a
 * missing key or zero-length `<data/>` removes it.
 */
export type BootstrapTokenChange =
  { action: 'store'; token: Uint8Array } | { action: 'remove'; reason: 'absent' | 'empty' };

export interface SetBootstrapTokenMessage extends CheckInCommon {
  messageType: 'SetBootstrapToken';
  bootstrapToken: BootstrapTokenChange;
  awaitingConfiguration: boolean;
}

export interface GetBootstrapTokenMessage extends CheckInCommon {
  messageType: 'GetBootstrapToken';
  awaitingConfiguration: boolean;
}

export interface ReturnToServiceMessage extends CheckInCommon {
  messageType: 'ReturnToService';
}

export interface DeclarativeManagementMessage extends CheckInCommon {
  messageType: 'DeclarativeManagement';
  /** `tokens`, `declaration-items`, `status` or `declaration/<type>/<identifier>`. */
  endpoint: string;
  /** JSON bytes; only sent with the `status` endpoint. */
  data?: Uint8Array;
}

export interface UserAuthenticateMessage extends CheckInCommon {
  messageType: 'UserAuthenticate';
  /** Present in the second round only. */
  digestResponse?: string;
}

export interface GetTokenMessage extends CheckInCommon {
  messageType: 'GetToken';
  tokenServiceType: string;
  tokenParameters?: { securityToken?: string; phoneUdid?: string; watchUdid?: string };
}

/** A parsed check-in; switch on `messageType`. */
export type CheckInMessage =
  | AuthenticateMessage
  | TokenUpdateMessage
  | CheckOutMessage
  | SetBootstrapTokenMessage
  | GetBootstrapTokenMessage
  | ReturnToServiceMessage
  | DeclarativeManagementMessage
  | UserAuthenticateMessage
  | GetTokenMessage;

function isMessageType(value: string): value is CheckInMessageType {
  return (CHECKIN_MESSAGE_TYPES as readonly string[]).includes(value);
}

function readCommon(r: DictReader): CheckInCommon {
  const common: CheckInCommon = { raw: r.dict };
  const udid = r.optionalIdentifier('UDID');
  const enrollmentId = r.optionalIdentifier('EnrollmentID');
  const enrollmentUserId = r.optionalIdentifier('EnrollmentUserID');
  const userId = r.optionalIdentifier('UserID');
  const userShortName = r.optionalIdentifier('UserShortName');
  const userLongName = r.lenientString('UserLongName');

  if (udid !== undefined) common.udid = udid;
  if (enrollmentId !== undefined) common.enrollmentId = enrollmentId;
  if (enrollmentUserId !== undefined) common.enrollmentUserId = enrollmentUserId;
  if (userId !== undefined) common.userId = userId;
  if (userShortName !== undefined) common.userShortName = userShortName;
  if (userLongName !== undefined) common.userLongName = userLongName;

  return common;
}

// Copies the defined entries only, so absent keys stay absent (toEqual-friendly, JSON-friendly).
function withDefined<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };

  for (const [key, value] of Object.entries(extra)) if (value !== undefined) out[key] = value;

  return out as T;
}

/**
 * Interprets an already decoded check-in dictionary. See {@link parseCheckIn}.
 */
export function checkInFromPlist(value: PlistValue): CheckInMessage {
  const dict = requireDict(value, 'CHECKIN.MALFORMED', 'A check-in body');
  const r = new DictReader(dict, 'CHECKIN.MALFORMED', 'Check-in');
  const messageType = r.requiredString('MessageType');

  if (!isMessageType(messageType)) {
    throw new ProtocolError(
      'CHECKIN.UNKNOWN_MESSAGE_TYPE',
      `Check-in MessageType "${messageType.slice(0, 60)}" is not one this server handles`,
    );
  }

  const reader = new DictReader(dict, 'CHECKIN.MALFORMED', `${messageType} check-in`);
  const common = readCommon(reader);

  if (!hasDeviceIdentifier(common)) {
    throw new ProtocolError(
      'CHECKIN.MISSING_IDENTIFIER',
      `${messageType} check-in carries neither UDID nor EnrollmentID`,
    );
  }

  return readMessage(messageType, reader, common);
}

function readMessage(
  messageType: CheckInMessageType,
  r: DictReader,
  common: CheckInCommon,
): CheckInMessage {
  switch (messageType) {
    case 'Authenticate':
      return withDefined<AuthenticateMessage>(
        { ...common, messageType, topic: r.requiredString('Topic') },
        {
          osVersion: r.lenientString('OSVersion'),
          buildVersion: r.lenientString('BuildVersion'),
          productName: r.lenientString('ProductName'),
          serialNumber: r.lenientString('SerialNumber'),
          imei: r.lenientString('IMEI'),
          meid: r.lenientString('MEID'),
          deviceName: r.lenientString('DeviceName'),
          model: r.lenientString('Model'),
          modelName: r.lenientString('ModelName'),
        },
      );
    case 'TokenUpdate':
      return withDefined<TokenUpdateMessage>(
        {
          ...common,
          messageType,
          topic: r.requiredString('Topic'),
          token: r.requiredData('Token'),
          pushMagic: r.requiredString('PushMagic'),
          awaitingConfiguration: r.optionalBoolean('AwaitingConfiguration') ?? false,
        },
        {
          unlockToken: r.optionalData('UnlockToken'),
          notOnConsole: r.optionalBoolean('NotOnConsole'),
        },
      );
    case 'CheckOut':
      return withDefined<CheckOutMessage>(
        { ...common, messageType },
        { topic: r.optionalString('Topic') },
      );
    case 'SetBootstrapToken': {
      const token = r.optionalData('BootstrapToken');
      const bootstrapToken: BootstrapTokenChange =
        token === undefined
          ? { action: 'remove', reason: 'absent' }
          : token.length === 0
            ? { action: 'remove', reason: 'empty' }
            : { action: 'store', token };

      return {
        ...common,
        messageType,
        bootstrapToken,
        awaitingConfiguration: r.optionalBoolean('AwaitingConfiguration') ?? false,
      };
    }
    case 'GetBootstrapToken':
      return {
        ...common,
        messageType,
        awaitingConfiguration: r.optionalBoolean('AwaitingConfiguration') ?? false,
      };
    case 'ReturnToService':
      return { ...common, messageType };
    case 'DeclarativeManagement':
      return withDefined<DeclarativeManagementMessage>(
        { ...common, messageType, endpoint: r.requiredString('Endpoint') },
        { data: r.optionalData('Data') },
      );
    case 'UserAuthenticate':
      return withDefined<UserAuthenticateMessage>(
        { ...common, messageType },
        { digestResponse: r.optionalString('DigestResponse') },
      );
    case 'GetToken': {
      const parameters = r.optionalDict('TokenParameters');
      const message = withDefined<GetTokenMessage>(
        { ...common, messageType, tokenServiceType: r.requiredString('TokenServiceType') },
        {},
      );

      if (parameters !== undefined) {
        const p = new DictReader(parameters, 'CHECKIN.MALFORMED', 'GetToken TokenParameters');

        message.tokenParameters = withDefined(
          {},
          {
            securityToken: p.optionalString('SecurityToken'),
            phoneUdid: p.optionalString('PhoneUDID'),
            watchUdid: p.optionalString('WatchUDID'),
          },
        );
      }

      return message;
    }
  }
}

/**
 * Decodes and interprets a check-in request body (XML or binary plist).
 *
 * Throws `PlistError` (`PLIST.*`) for undecodable bodies and `ProtocolError` with
 * `CHECKIN.MALFORMED` (body not a dictionary, MessageType missing, a key we rely on has the wrong
 * type or a required key is missing), `CHECKIN.UNKNOWN_MESSAGE_TYPE`, or
 * `CHECKIN.MISSING_IDENTIFIER` (neither UDID nor EnrollmentID). Informational keys with a wrong
 * type (OSVersion, SerialNumber, ...) are left out of the typed fields but kept in `raw`.
 */
export function parseCheckIn(body: Uint8Array, limits?: Partial<PlistLimits>): CheckInMessage {
  return checkInFromPlist(decodePlist(body, limits));
}
