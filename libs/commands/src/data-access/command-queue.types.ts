import type { CommandState, Placement } from '../domain/queue-rules.js';
import type { ReportDecision, ReportStatus } from '../domain/report-rules.js';

/** An identity certificate and the enrollment it belongs to. */
export interface IdentityBinding {
  fingerprint: string;
  udid: string;
  enrollmentId: string;
  userEnrollment: boolean;
}

export interface EnrollmentRecord extends IdentityBinding {
  fresh: boolean;
  previousEnrollmentId?: string;
}

export interface SupersededGroup {
  udid: string;
  enrollmentId: string;
  commandUuids: string[];
}

/** Names the profile provisioning renders into an InstallProfile's `Payload` at delivery. */
export interface ProfileAttachment {
  cycleId: string;
  source: 'plan' | 'standing-wifi';
  /** The plan profile's name; absent for the standing Wi-Fi profile. */
  name?: string;
  /** Provisioning's digest of the profile bytes when the command was queued (opaque here). */
  digest: string;
}

export interface EnqueuedCommand {
  commandUuid: string;
  requestType: string;
  body: string;
  /** The audit reason for fetching the bootstrap token at delivery; never the token. */
  bootstrapTokenReason?: string;
  /** The RTS cycle whose profiles provisioning renders at delivery; never the profiles. */
  returnToServiceProfilesCycleId?: string;
  /** The profile of an InstallProfile, rendered at delivery; never its bytes. */
  profile?: ProfileAttachment;
  whileAwaitingConfiguration?: boolean;
}

export interface EnqueueInput {
  udid: string;
  enrollmentId: string;
  placement: Placement;
  commands: readonly EnqueuedCommand[];
  correlationId?: string;
}

export interface EnqueueOutcome {
  /** Newly queued, in queue order. */
  queued: string[];
  /** New, but for an enrollment a fresh one already replaced: closed at once. */
  superseded: string[];
  /** New, but no longer applicable to the enrollment: closed at once. */
  refused: RefusedCommand[];
  /** CommandUUIDs the enrollment already had (a redelivered request). */
  ignored: string[];
}

/** A command as the rest of the service sees it (entities never leave this folder). */
export interface CommandRef {
  commandUuid: string;
  requestType: string;
  udid: string;
  enrollmentId: string;
  correlationId?: string;
}

/** A command closed without being delivered, and why. */
export interface RefusedCommand extends CommandRef {
  reason: string;
}

export interface DeliveredCommand extends CommandRef {
  /** Base64 XML plist of the Command dictionary. */
  body: string;
  /** Counting this delivery. */
  deliveries: number;
  /**
   * Set for a command whose secrets are fetched as it goes out: an erase's bootstrap token from
   * escrow and Return to Service profiles from provisioning, an InstallProfile's profile from
   * provisioning. Its delivery is not recorded yet: that waits for them
   * ({@link CommandQueueRepository.recordDelivery}), so an outage of either leaves the command as
   * deliverable as it was.
   */
  held?: HeldDelivery;
}

/** What a held command's delivery still needs, and the state it was chosen in. */
export interface HeldDelivery {
  stateBefore: CommandState;
  /** The audit reason escrow is given for the bootstrap token. */
  bootstrapTokenReason?: string;
  /** The RTS cycle whose Wi-Fi and enrollment profiles provisioning renders. */
  returnToServiceProfilesCycleId?: string;
  /** The profile provisioning renders into an InstallProfile's `Payload`. */
  profile?: ProfileAttachment;
}

export interface ReportInput {
  udid: string;
  enrollmentId: string;
  status: ReportStatus;
  commandUuid?: string;
}

export interface ReportOutcome {
  sessionId: string;
  sessionStarted: boolean;
  decision: ReportDecision;
  /** The command the report changed (finished or NotNow), when it changed one. */
  changed: CommandRef | null;
  /** Commands that came up for delivery but no longer apply; now closed as refused. */
  refused: RefusedCommand[];
  /**
   * The command to answer with, marked delivered unless it waits for secrets (`held`). Null:
   * answer with an empty body.
   */
  next: DeliveredCommand | null;
}

export interface CommandView extends CommandRef {
  sequence: number;
  state: CommandState;
  deliveries: number;
  notNowSessionId: string | null;
}

/** What an Idle needs to know before it can be answered without a transaction. */
export interface IdleLookup {
  binding: IdentityBinding;
  /** The enrollment is known here and active, and has no command pending. */
  quiet: boolean;
}
