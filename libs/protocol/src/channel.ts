import { ProtocolError } from './protocol.errors.js';

/** The identifier keys a check-in or a report may carry, camelCased. */
export interface ChannelIdentifiers {
  udid?: string;
  enrollmentId?: string;
  enrollmentUserId?: string;
  userId?: string;
  userShortName?: string;
  userLongName?: string;
}

/**
 * Every Shared iPad user connects with this UserID; the user is told apart by UserShortName
 * (Apple's Token Update schema, `UserID`).
 */
export const SHARED_IPAD_USER_ID = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

export type EnrollmentType =
  'Device' | 'User' | 'SharedIPad' | 'UserEnrollmentDevice' | 'UserEnrollment';

/** Which enrollment channel a message belongs to; see {@link resolveChannel}. */
export interface ResolvedChannel {
  channel: 'device' | 'user';
  enrollmentType: EnrollmentType;
  /** UDID, or EnrollmentID for a User Enrollment. */
  deviceId: string;
  /** UserID, UserShortName (Shared iPad) or EnrollmentUserID; only on the user channel. */
  userKey?: string;
  /** `deviceId` on the device channel, `deviceId:userKey` on the user channel. */
  id: string;
  /** EnrollmentID without UDID: erase and Return to Service are not allowed. */
  isUserEnrollment: boolean;
}

export function hasDeviceIdentifier(ids: ChannelIdentifiers): boolean {
  return Boolean(ids.udid) || Boolean(ids.enrollmentId);
}

function missing(reason: string): never {
  throw new ProtocolError('CHANNEL.MISSING_IDENTIFIER', reason);
}

/**
 * Works out which enrollment channel a message belongs to, with NanoMDM's precedence: UDID first
 * (user channel keyed by UserID, or by UserShortName when UserID is the Shared iPad placeholder
 * {@link SHARED_IPAD_USER_ID}), else EnrollmentID (user channel keyed by EnrollmentUserID).
 *
 * Throws `CHANNEL.MISSING_IDENTIFIER` when there is neither UDID nor EnrollmentID, or when a
 * Shared iPad user message has no UserShortName.
 */
export function resolveChannel(ids: ChannelIdentifiers): ResolvedChannel {
  if (ids.udid) {
    const deviceId = ids.udid;

    if (!ids.userId) {
      return {
        channel: 'device',
        enrollmentType: 'Device',
        deviceId,
        id: deviceId,
        isUserEnrollment: false,
      };
    }

    const sharedIpad = ids.userId.toUpperCase() === SHARED_IPAD_USER_ID;
    const userKey = sharedIpad
      ? ids.userShortName || missing('a Shared iPad user message has no UserShortName')
      : ids.userId;

    return {
      channel: 'user',
      enrollmentType: sharedIpad ? 'SharedIPad' : 'User',
      deviceId,
      userKey,
      id: `${deviceId}:${userKey}`,
      isUserEnrollment: false,
    };
  }

  if (ids.enrollmentId) {
    const deviceId = ids.enrollmentId;

    if (!ids.enrollmentUserId) {
      return {
        channel: 'device',
        enrollmentType: 'UserEnrollmentDevice',
        deviceId,
        id: deviceId,
        isUserEnrollment: true,
      };
    }

    return {
      channel: 'user',
      enrollmentType: 'UserEnrollment',
      deviceId,
      userKey: ids.enrollmentUserId,
      id: `${deviceId}:${ids.enrollmentUserId}`,
      isUserEnrollment: true,
    };
  }

  return missing('the message carries neither UDID nor EnrollmentID');
}
