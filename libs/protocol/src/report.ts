import { hasDeviceIdentifier, type ChannelIdentifiers } from './channel.js';
import { requireDict } from './plist-access.js';
import { decodePlist } from './plist-codec.js';
import {
  describePlistType,
  isPlistDict,
  type PlistDict,
  type PlistLimits,
  type PlistValue,
} from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';

/** Every Status a device reports on the command URL. */
export const REPORT_STATUSES = [
  'Idle',
  'Acknowledged',
  'Error',
  'CommandFormatError',
  'NotNow',
] as const;

export type ReportStatus = (typeof REPORT_STATUSES)[number];

/** One ErrorChain element; every field is optional because devices are not consistent (B19). */
export interface ErrorChainItem {
  /** May be negative (e.g. NSOSStatusErrorDomain -909). */
  errorCode?: number;
  errorDomain?: string;
  localizedDescription?: string;
  usEnglishDescription?: string;
  raw: PlistDict;
}

/** A key that was present but could not be used; the report was accepted anyway. */
export interface ReportProblem {
  key: string;
  reason: string;
}

/** A parsed command-URL request: Idle, or the result of one command. */
export interface CommandReport extends ChannelIdentifiers {
  status: ReportStatus;
  commandUuid?: string;
  /** Echoed by older macOS versions. */
  requestType?: string;
  errorChain?: ErrorChainItem[];
  /** The whole decoded dictionary (command-specific result keys included). */
  payload: PlistDict;
  problems: ReportProblem[];
}

const IDENTIFIER_KEYS = [
  ['UDID', 'udid'],
  ['EnrollmentID', 'enrollmentId'],
  ['EnrollmentUserID', 'enrollmentUserId'],
  ['UserID', 'userId'],
  ['UserShortName', 'userShortName'],
  ['UserLongName', 'userLongName'],
] as const;

function isStatus(value: string): value is ReportStatus {
  return (REPORT_STATUSES as readonly string[]).includes(value);
}

function readErrorChain(
  value: PlistValue,
  problems: ReportProblem[],
): ErrorChainItem[] | undefined {
  if (!Array.isArray(value)) {
    problems.push({
      key: 'ErrorChain',
      reason: `expected an array, got ${describePlistType(value)}`,
    });

    return undefined;
  }

  const chain: ErrorChainItem[] = [];

  value.forEach((entry, index) => {
    if (!isPlistDict(entry)) {
      problems.push({
        key: `ErrorChain[${index}]`,
        reason: `expected a dictionary, got ${describePlistType(entry)}`,
      });

      return;
    }

    const item: ErrorChainItem = { raw: entry };
    const code = entry['ErrorCode'];

    if (typeof code === 'number') item.errorCode = code;
    else if (typeof code === 'bigint') item.errorCode = Number(code);
    else if (code !== undefined) {
      problems.push({ key: `ErrorChain[${index}].ErrorCode`, reason: describePlistType(code) });
    }

    const texts = [
      ['ErrorDomain', 'errorDomain'],
      ['LocalizedDescription', 'localizedDescription'],
      ['USEnglishDescription', 'usEnglishDescription'],
    ] as const;

    for (const [key, field] of texts) {
      const text = entry[key];

      if (typeof text === 'string') item[field] = text;
      else if (text !== undefined) {
        problems.push({ key: `ErrorChain[${index}].${key}`, reason: describePlistType(text) });
      }
    }

    chain.push(item);
  });

  return chain;
}

/** Interprets an already decoded report dictionary. See {@link parseReport}. */
export function reportFromPlist(value: PlistValue): CommandReport {
  const payload = requireDict(value, 'REPORT.MALFORMED', 'A command report body');
  const status = payload['Status'];

  if (typeof status !== 'string') {
    throw new ProtocolError(
      'REPORT.MALFORMED',
      `Command report: Status must be a string, got ${describePlistType(status)}`,
    );
  }
  if (!isStatus(status)) {
    throw new ProtocolError(
      'REPORT.UNKNOWN_STATUS',
      `Command report Status "${status.slice(0, 60)}" is not one of ${REPORT_STATUSES.join(', ')}`,
    );
  }

  const report: CommandReport = { status, payload, problems: [] };

  for (const [key, field] of IDENTIFIER_KEYS) {
    const id = payload[key];

    if (typeof id === 'string' && id !== '') report[field] = id;
    else if (id !== undefined && typeof id !== 'string') {
      report.problems.push({ key, reason: `expected a string, got ${describePlistType(id)}` });
    }
  }

  if (!hasDeviceIdentifier(report)) {
    throw new ProtocolError(
      'REPORT.MISSING_IDENTIFIER',
      'Command report carries neither a UDID nor an EnrollmentID string',
    );
  }

  for (const [key, field] of [
    ['CommandUUID', 'commandUuid'],
    ['RequestType', 'requestType'],
  ] as const) {
    const text = payload[key];

    if (typeof text === 'string') report[field] = text;
    else if (text !== undefined) {
      report.problems.push({ key, reason: `expected a string, got ${describePlistType(text)}` });
    }
  }

  const chain = payload['ErrorChain'];

  if (chain !== undefined) {
    const errorChain = readErrorChain(chain, report.problems);

    if (errorChain !== undefined) report.errorChain = errorChain;
  }

  return report;
}

/**
 * Decodes a command-URL request (Idle or a command result).
 *
 * Only `Status` and a device identifier (UDID or EnrollmentID) are required: everything else is
 * read tolerantly, so an odd result payload never blocks the queue (B19). Mistyped CommandUUID,
 * RequestType, identifiers or ErrorChain entries are listed in `problems` instead of failing.
 *
 * Throws `PLIST.*`, `REPORT.MALFORMED` (not a dictionary, Status missing or not a string),
 * `REPORT.UNKNOWN_STATUS` or `REPORT.MISSING_IDENTIFIER`.
 */
export function parseReport(body: Uint8Array, limits?: Partial<PlistLimits>): CommandReport {
  return reportFromPlist(decodePlist(body, limits));
}
