/**
 * The command queue of one enrollment, as pure rules. A command belongs to exactly one enrollment
 * (never to a bare UDID), so a command left from an earlier enrollment can never reach a later
 * one (B05).
 */

/**
 * Where a command is in its life. The first three are "pending" (B16: NotNow counts too);
 * `refused` was never delivered because it no longer applied to the enrollment.
 */
export type CommandState =
  | 'queued'
  | 'delivered'
  | 'not-now'
  | 'acknowledged'
  | 'error'
  | 'format-error'
  | 'superseded'
  | 'refused';

export const PENDING_STATES: readonly CommandState[] = ['queued', 'delivered', 'not-now'];

/** What the rules need to know about a queued command. */
export interface QueueEntry {
  commandUuid: string;
  requestType: string;
  sequence: number;
  state: CommandState;
  /** How many times the command was handed to the device. */
  deliveries: number;
  /** The session in which the device last answered NotNow, if any. */
  notNowSessionId: string | null;
}

export type Placement = 'back' | 'front';

// Apple: the device answers an EraseDevice once and never retries, and once it erases no result
// comes for that enrollment. Handing it out again is how erase loops start (B05). An erase the
// device answered NotNow did not run, so it waits for a later session like any other command.
const DELIVERED_ONCE_ONLY: ReadonlySet<string> = new Set(['EraseDevice']);

export function isPending(entry: Pick<QueueEntry, 'state'>): boolean {
  return PENDING_STATES.includes(entry.state);
}

/**
 * May this command be handed out in this session? It must be pending; not answered NotNow in this
 * same session (B15: otherwise two NotNow'd commands swap places forever); and not an erase that
 * already went out, unless the device said NotNow to it.
 */
export function isEligible(entry: QueueEntry, sessionId: string): boolean {
  if (!isPending(entry)) {
    return false;
  }
  if (entry.state === 'not-now' && entry.notNowSessionId === sessionId) {
    return false;
  }

  return !(
    DELIVERED_ONCE_ONLY.has(entry.requestType) &&
    entry.deliveries > 0 &&
    entry.state !== 'not-now'
  );
}

/** Queue order: sequence, then CommandUUID so that equal sequences still order the same way. */
export function compareQueueOrder(a: QueueEntry, b: QueueEntry): number {
  if (a.sequence !== b.sequence) {
    return a.sequence - b.sequence;
  }

  return a.commandUuid < b.commandUuid ? -1 : a.commandUuid > b.commandUuid ? 1 : 0;
}

/**
 * The command to answer with, or undefined for a zero-byte reply. A NotNow never blocks the
 * commands behind it (B13): they stay eligible while the NotNow'd one waits for a later session.
 */
export function nextEligible<T extends QueueEntry>(
  entries: readonly T[],
  sessionId: string,
): T | undefined {
  return [...entries].sort(compareQueueOrder).find((entry) => isEligible(entry, sessionId));
}

/** What decides whether a command still applies to its enrollment. */
export interface ConfigurationScope {
  requestType: string;
  /** Queued as a setup step: it only makes sense while the device awaits configuration. */
  whileAwaitingConfiguration: boolean;
}

/**
 * Why a command may no longer be sent, or null when it may. Once the enrollment's DeviceConfigured
 * was acknowledged the device has left Await Configuration: a second DeviceConfigured (or a setup
 * step meant for before it) would at best be wasted and, during RTS with app preservation, runs
 * into the window where the device removes the apps that were not reinstalled.
 */
export function refusalReason(
  command: ConfigurationScope,
  deviceConfiguredAt: Date | null,
): string | null {
  if (!deviceConfiguredAt) {
    return null;
  }
  if (command.requestType !== 'DeviceConfigured' && !command.whileAwaitingConfiguration) {
    return null;
  }

  return (
    'DeviceConfigured was already acknowledged for this enrollment at ' +
    deviceConfiguredAt.toISOString()
  );
}

export interface Choice<T> {
  /** The command to answer with; undefined for a zero-byte reply. */
  next: T | undefined;
  /** Commands that came up before it but no longer apply, each with its reason. */
  refused: { entry: T; reason: string }[];
}

/**
 * {@link nextEligible}, except that a command that no longer applies ({@link refusalReason}) is
 * set aside as refused instead of being handed out, and the next one is considered.
 */
export function chooseNext<T extends QueueEntry & ConfigurationScope>(
  entries: readonly T[],
  sessionId: string,
  deviceConfiguredAt: Date | null,
): Choice<T> {
  const refused: Choice<T>['refused'] = [];
  for (const entry of [...entries].sort(compareQueueOrder)) {
    if (!isEligible(entry, sessionId)) {
      continue;
    }
    const reason = refusalReason(entry, deviceConfiguredAt);
    if (reason === null) {
      return { next: entry, refused };
    }
    refused.push({ entry, reason });
  }

  return { next: undefined, refused };
}

export interface SequenceBounds {
  min: number;
  max: number;
}

/**
 * Sequence numbers for `count` new commands, in the order given. 'back' goes after everything
 * queued; 'front' goes before everything queued, keeping the new commands' own order.
 */
export function sequencesFor(
  placement: Placement,
  bounds: SequenceBounds | null,
  count: number,
): number[] {
  const numbers = Array.from({ length: count }, (_, index) => index);
  if (!bounds) {
    return numbers.map((index) => index + 1);
  }
  if (placement === 'front') {
    return numbers.map((index) => bounds.min - count + index);
  }

  return numbers.map((index) => bounds.max + 1 + index);
}

/**
 * The new sequence that puts `commandUuid` at the head of the pending queue, or null when it is
 * not pending or already first (moving it again would change nothing).
 */
export function prioritizedSequence(
  entries: readonly QueueEntry[],
  commandUuid: string,
): number | null {
  const target = entries.find((entry) => entry.commandUuid === commandUuid);
  if (!target || !isPending(target)) {
    return null;
  }
  const pending = entries.filter(isPending).sort(compareQueueOrder);
  if (pending[0]?.commandUuid === commandUuid) {
    return null;
  }

  return Math.min(...entries.map((entry) => entry.sequence)) - 1;
}

/**
 * Commands an enrollment may be asked to run: a CommandUUID already known for the enrollment is
 * a redelivery of the same request and is ignored, as is a repeat inside one request.
 */
export function newCommands<T extends { commandUuid: string }>(
  requested: readonly T[],
  known: ReadonlySet<string>,
): T[] {
  const seen = new Set(known);

  return requested.filter((command) => {
    if (seen.has(command.commandUuid)) {
      return false;
    }
    seen.add(command.commandUuid);

    return true;
  });
}

export interface EnrollmentCommand extends Pick<QueueEntry, 'commandUuid' | 'state'> {
  enrollmentId: string;
}

/**
 * A fresh enrollment ends every command still pending from the device's other enrollments (B05),
 * grouped by the enrollment they belonged to. A renewal (not fresh) keeps the queue.
 */
export function supersededByEnrollment(
  commands: readonly EnrollmentCommand[],
  freshEnrollmentId: string,
): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const command of commands) {
    if (command.enrollmentId === freshEnrollmentId || !isPending(command)) {
      continue;
    }
    groups.set(command.enrollmentId, [
      ...(groups.get(command.enrollmentId) ?? []),
      command.commandUuid,
    ]);
  }

  return groups;
}
