import { CommandState, isPending } from './queue-rules.js';

/** The `Status` values a device sends to the command URL. */
export type ReportStatus = 'Idle' | 'Acknowledged' | 'Error' | 'CommandFormatError' | 'NotNow';

export type FinishedState = Extract<CommandState, 'acknowledged' | 'error' | 'format-error'>;

/** Why a report leaves the queue as it is (B17, B19); each is logged, none is an error. */
export type IgnoredReason =
  | 'missing-command-uuid'
  | 'unknown-command'
  | 'other-enrollment'
  | 'already-finished'
  | 'repeated-not-now';

export type ReportDecision =
  | { kind: 'idle'; strayCommandUuid?: string }
  | { kind: 'finish'; state: FinishedState }
  | { kind: 'not-now' }
  | { kind: 'ignore'; reason: IgnoredReason };

/** The command a report's CommandUUID names, wherever it was found. */
export interface ReportedCommand {
  enrollmentId: string;
  state: CommandState;
  notNowSessionId: string | null;
}

export interface ReportFacts {
  status: ReportStatus;
  commandUuid?: string;
  /** The enrollment the signing identity belongs to. */
  enrollmentId: string;
}

// Apple names only Acknowledged and Error as completing a command; CommandFormatError is treated
// as final too, or a command the device cannot parse would be handed out forever.
const FINISHING: Readonly<Record<Exclude<ReportStatus, 'Idle' | 'NotNow'>, FinishedState>> = {
  Acknowledged: 'acknowledged',
  Error: 'error',
  CommandFormatError: 'format-error',
};

/**
 * What a report does to the queue. Only Status and CommandUUID count (B19): the result payload is
 * never needed to move on. A report that names no pending command of this enrollment changes
 * nothing (B17), and a repeated report finds its command already changed and changes nothing.
 */
export function decideReport(
  report: ReportFacts,
  command: ReportedCommand | null,
  sessionId: string,
): ReportDecision {
  if (report.status === 'Idle') {
    return report.commandUuid
      ? { kind: 'idle', strayCommandUuid: report.commandUuid }
      : { kind: 'idle' };
  }
  if (!report.commandUuid) {
    return { kind: 'ignore', reason: 'missing-command-uuid' };
  }
  if (!command) {
    return { kind: 'ignore', reason: 'unknown-command' };
  }
  if (command.enrollmentId !== report.enrollmentId) {
    return { kind: 'ignore', reason: 'other-enrollment' };
  }
  if (!isPending(command)) {
    return { kind: 'ignore', reason: 'already-finished' };
  }
  if (report.status === 'NotNow') {
    return command.state === 'not-now' && command.notNowSessionId === sessionId
      ? { kind: 'ignore', reason: 'repeated-not-now' }
      : { kind: 'not-now' };
  }

  return { kind: 'finish', state: FINISHING[report.status] };
}

/**
 * The session a report belongs to. A session is the run of requests that starts with Idle and
 * ends with an empty answer; a result that arrives with no session yet opens one.
 */
export function sessionForReport(
  status: ReportStatus,
  currentSessionId: string | null,
  newSessionId: () => string,
): { sessionId: string; started: boolean } {
  if (status === 'Idle' || currentSessionId === null) {
    return { sessionId: newSessionId(), started: true };
  }

  return { sessionId: currentSessionId, started: false };
}
