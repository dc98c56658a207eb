import type { CommandState } from '../domain/queue-rules.js';
import type {
  CommandRef,
  EnqueuedCommand,
  EnqueueInput,
  HeldDelivery,
  IdentityBinding,
  ProfileAttachment,
} from './command-queue.types.js';
import { CommandEntity, IdentityProjectionEntity } from './commands.entities.js';

export function bindingOf(row: IdentityProjectionEntity): IdentityBinding {
  return {
    fingerprint: row.fingerprint,
    udid: row.udid,
    enrollmentId: row.enrollmentId,
    userEnrollment: row.userEnrollment,
  };
}

// A row written with a profile reference has all of its columns, or none (enqueue writes them).
function profileOf(
  command: Pick<
    CommandEntity,
    'profileCycleId' | 'profileSource' | 'profileName' | 'profileDigest'
  >,
): ProfileAttachment | undefined {
  if (
    command.profileCycleId === null ||
    command.profileSource === null ||
    command.profileDigest === null
  ) {
    return undefined;
  }

  return {
    cycleId: command.profileCycleId,
    source: command.profileSource,
    ...(command.profileName !== null ? { name: command.profileName } : {}),
    digest: command.profileDigest,
  };
}

/** The reference the rest of the service passes around, from a row or a delivered command. */
export function refOf(
  command: Pick<CommandEntity, 'commandUuid' | 'requestType' | 'udid' | 'enrollmentId'> & {
    correlationId?: string | null;
  },
): CommandRef {
  return {
    commandUuid: command.commandUuid,
    requestType: command.requestType,
    udid: command.udid,
    enrollmentId: command.enrollmentId,
    ...(command.correlationId ? { correlationId: command.correlationId } : {}),
  };
}

/** What the command still waits for before its delivery is recorded; undefined when nothing. */
export function heldOf(command: CommandEntity): HeldDelivery | undefined {
  const profile = profileOf(command);
  if (
    command.bootstrapTokenReason === null &&
    command.returnToServiceProfilesCycleId === null &&
    profile === undefined
  ) {
    return undefined;
  }

  return {
    stateBefore: command.state,
    ...(command.bootstrapTokenReason !== null
      ? { bootstrapTokenReason: command.bootstrapTokenReason }
      : {}),
    ...(command.returnToServiceProfilesCycleId !== null
      ? { returnToServiceProfilesCycleId: command.returnToServiceProfilesCycleId }
      : {}),
    ...(profile ? { profile } : {}),
  };
}

export function queuedRowOf(
  input: EnqueueInput,
  command: EnqueuedCommand,
  placed: { sequence: number; state: CommandState; now: Date },
): CommandEntity {
  return {
    enrollmentId: input.enrollmentId,
    commandUuid: command.commandUuid,
    udid: input.udid,
    requestType: command.requestType,
    // The erase's secrets (bootstrap token, Wi-Fi and enrollment profiles) and an
    // InstallProfile's profile are kept out of the row; only what to ask for at delivery
    // is stored.
    body: command.body,
    bootstrapTokenReason: command.bootstrapTokenReason ?? null,
    returnToServiceProfilesCycleId: command.returnToServiceProfilesCycleId ?? null,
    profileCycleId: command.profile?.cycleId ?? null,
    profileSource: command.profile?.source ?? null,
    profileName: command.profile?.name ?? null,
    profileDigest: command.profile?.digest ?? null,
    whileAwaitingConfiguration: command.whileAwaitingConfiguration ?? false,
    sequence: placed.sequence,
    state: placed.state,
    deliveries: 0,
    notNowSessionId: null,
    correlationId: input.correlationId ?? null,
    queuedAt: placed.now,
    lastDeliveredAt: null,
    lastReportAt: null,
    updatedAt: placed.now,
  };
}
