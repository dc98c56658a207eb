import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Not } from 'typeorm';

import { DataGate } from '@turnaround/platform';

import {
  chooseNext,
  CommandState,
  newCommands,
  PENDING_STATES,
  prioritizedSequence,
  refusalReason,
  sequencesFor,
  supersededByEnrollment,
} from '../domain/queue-rules.js';
import { decideReport, sessionForReport } from '../domain/report-rules.js';
import {
  CommandRef,
  CommandView,
  DeliveredCommand,
  EnqueueInput,
  EnqueueOutcome,
  EnrollmentRecord,
  IdentityBinding,
  IdleLookup,
  ReportInput,
  ReportOutcome,
  SupersededGroup,
} from './command-queue.types.js';
import { bindingOf, heldOf, queuedRowOf, refOf } from './command-rows.js';
import {
  CommandEntity,
  EnrollmentQueueEntity,
  IdentityProjectionEntity,
} from './commands.entities.js';
import { LastSeenRepository } from './last-seen.repository.js';
import {
  pendingQueueEntry,
  PendingQueueRow,
  ReportStatements,
  reportStatements,
  quietIdleStatement,
  QuietIdleRow,
} from './queue-statements.js';

export type {
  CommandRef,
  CommandView,
  DeliveredCommand,
  EnqueuedCommand,
  EnqueueInput,
  EnqueueOutcome,
  EnrollmentRecord,
  HeldDelivery,
  IdentityBinding,
  IdleLookup,
  ProfileAttachment,
  RefusedCommand,
  ReportInput,
  ReportOutcome,
  SupersededGroup,
} from './command-queue.types.js';

const PENDING = In([...PENDING_STATES]);

/**
 * Every table of the commands service behind one class; each method is one transaction. On
 * PostgreSQL the enrollment row is locked for the length of a queue change, so replicas serving
 * one device take turns; SQLite has one connection per process, so transactions run one at a time.
 */
@Injectable()
export class CommandQueueRepository {
  private readonly gate: DataGate;
  private quietIdle?: string;
  private statements?: ReportStatements;

  constructor(
    @InjectDataSource('commands') dataSource: DataSource,
    private readonly lastSeen: LastSeenRepository,
  ) {
    this.gate = DataGate.of(dataSource);
  }

  async findIdentity(fingerprint: string): Promise<IdentityBinding | null> {
    return this.transaction(async (manager) => {
      const row = await this.gate.findOneBy(IdentityProjectionEntity, { fingerprint });

      return row ? bindingOf(row) : null;
    });
  }

  /**
   * The signer's binding and whether its enrollment is quiet, in one read without a transaction
   * or a write. Null when the identity is not known here yet. An Idle of a quiet enrollment changes
   * nothing a later request depends on: with nothing pending there is no NotNow to hold back, so
   * the session {@link report} would open is not needed either.
   */
  async lookUpIdle(fingerprint: string): Promise<IdleLookup | null> {
    this.quietIdle ??= quietIdleStatement(this.gate);
    const [row] = await this.gate.select<QuietIdleRow>(this.quietIdle, [fingerprint]);
    if (!row) {
      return null;
    }
    const binding = {
      fingerprint,
      udid: row.udid,
      enrollmentId: row.enrollmentId,
      userEnrollment: Boolean(row.userEnrollment),
    };
    const quiet = row.status === 'active' && !row.pending;
    if (quiet) {
      this.lastSeen.note(binding.enrollmentId, new Date());
    }

    return { binding, quiet };
  }

  /** Stores what the check-in service answered; an event-fed row is newer and stays. */
  async rememberIdentity(binding: IdentityBinding): Promise<void> {
    await this.transaction(async (manager) => {
      await manager
        .createQueryBuilder()
        .insert()
        .into(IdentityProjectionEntity)
        .values({ ...binding, source: 'resolved', updatedAt: new Date() })
        .orIgnore()
        .execute();
    });
  }

  /**
   * Applies a DeviceEnrolled event: binds the identity and, for a fresh enrollment, closes every
   * pending command of the device's other enrollments. A late copy of an event for an enrollment
   * that was itself replaced closes nothing.
   */
  async recordEnrollment(record: EnrollmentRecord): Promise<SupersededGroup[]> {
    return this.transaction(async (manager) => {
      const now = new Date();
      await manager.save(IdentityProjectionEntity, {
        fingerprint: record.fingerprint,
        udid: record.udid,
        enrollmentId: record.enrollmentId,
        userEnrollment: record.userEnrollment,
        source: 'event',
        updatedAt: now,
      });
      const enrollment = await this.lockEnrollment(manager, record.enrollmentId, record.udid);
      if (!record.fresh || enrollment.status === 'superseded') {
        return [];
      }
      await manager.update(
        EnrollmentQueueEntity,
        { udid: record.udid, status: 'active', enrollmentId: Not(record.enrollmentId) },
        { status: 'superseded', updatedAt: now },
      );
      if (record.previousEnrollmentId && record.previousEnrollmentId !== record.enrollmentId) {
        // Remembered even if this service never saw it, so a late EnqueueCommands for it is
        // closed at once instead of waiting forever.
        await manager
          .createQueryBuilder()
          .insert()
          .into(EnrollmentQueueEntity)
          .values({
            enrollmentId: record.previousEnrollmentId,
            udid: record.udid,
            status: 'superseded',
            sessionId: null,
            sessionStartedAt: null,
            deviceConfiguredAt: null,
            updatedAt: now,
          })
          .orIgnore()
          .execute();
      }

      const leftovers = await manager.find(CommandEntity, {
        where: { udid: record.udid, state: PENDING, enrollmentId: Not(record.enrollmentId) },
      });
      const groups = supersededByEnrollment(leftovers, record.enrollmentId);
      for (const [enrollmentId, commandUuids] of groups) {
        await manager.update(
          CommandEntity,
          { enrollmentId, commandUuid: In(commandUuids) },
          { state: 'superseded', updatedAt: now },
        );
      }

      return [...groups].map(([enrollmentId, commandUuids]) => ({
        udid: record.udid,
        enrollmentId,
        commandUuids,
      }));
    });
  }

  /**
   * The device removed its enrollment (CheckOut): nothing queued for it can run any more, and
   * anything queued for it later is closed at once. Returns what was closed, if anything.
   */
  async checkOut(udid: string, enrollmentId: string): Promise<SupersededGroup | null> {
    return this.transaction(async (manager) => {
      const now = new Date();
      await this.lockEnrollment(manager, enrollmentId, udid);
      await manager.update(
        EnrollmentQueueEntity,
        { enrollmentId, udid },
        { status: 'superseded', updatedAt: now },
      );
      const pending = await manager.find(CommandEntity, {
        where: { udid, enrollmentId, state: PENDING },
      });
      if (pending.length === 0) {
        return null;
      }
      const commandUuids = pending.map((command) => command.commandUuid);
      await manager.update(
        CommandEntity,
        { enrollmentId, commandUuid: In(commandUuids) },
        { state: 'superseded', updatedAt: now },
      );

      return { udid, enrollmentId, commandUuids };
    });
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueOutcome> {
    return this.transaction(async (manager) => {
      const enrollment = await this.lockEnrollment(manager, input.enrollmentId, input.udid);
      // Only the asked-for CommandUUIDs and the sequence bounds are read: an enrollment's history
      // (every command it ever ran, until retention) is not loaded to queue one more.
      const existing = await manager.find(CommandEntity, {
        select: { commandUuid: true },
        where: {
          enrollmentId: input.enrollmentId,
          commandUuid: In(input.commands.map((command) => command.commandUuid)),
        },
      });
      const known = new Set(existing.map((command) => command.commandUuid));
      const fresh = newCommands(input.commands, known);
      const ignored = input.commands
        .map((command) => command.commandUuid)
        .filter((uuid) => known.has(uuid));
      if (fresh.length === 0) {
        return { queued: [], superseded: [], refused: [], ignored };
      }
      const span = await manager
        .createQueryBuilder(CommandEntity, 'command')
        .select('MIN(command.sequence)', 'min')
        .addSelect('MAX(command.sequence)', 'max')
        .where('command.enrollmentId = :enrollmentId', { enrollmentId: input.enrollmentId })
        .getRawOne<{ min: number | string | null; max: number | string | null }>();
      const bounds =
        span && span.min !== null && span.max !== null
          ? { min: Number(span.min), max: Number(span.max) }
          : null;
      const sequences = sequencesFor(input.placement, bounds, fresh.length);
      const superseded = enrollment.status === 'superseded';
      const now = new Date();
      const rows = fresh.map((command, index) => {
        const whileAwaitingConfiguration = command.whileAwaitingConfiguration ?? false;
        const reason = superseded
          ? null
          : refusalReason(
              { requestType: command.requestType, whileAwaitingConfiguration },
              enrollment.deviceConfiguredAt,
            );
        const state: CommandState = superseded ? 'superseded' : reason ? 'refused' : 'queued';

        return {
          reason,
          row: queuedRowOf(input, command, { sequence: sequences[index]!, state, now }),
        };
      });
      await manager.insert(
        CommandEntity,
        rows.map(({ row }) => row),
      );
      const withState = (state: CommandState) =>
        rows.filter(({ row }) => row.state === state).map(({ row }) => row.commandUuid);

      return {
        queued: withState('queued'),
        superseded: withState('superseded'),
        refused: rows
          .filter(({ reason }) => reason !== null)
          .map(({ row, reason }) => ({ ...refOf(row), reason: reason! })),
        ignored,
      };
    });
  }

  /** Moves a pending command to the head of its queue; false when that changes nothing. */
  async prioritize(enrollmentId: string, udid: string, commandUuid: string): Promise<boolean> {
    return this.transaction(async (manager) => {
      await this.lockEnrollment(manager, enrollmentId, udid);
      const commands = await manager.find(CommandEntity, { where: { enrollmentId } });
      const sequence = prioritizedSequence(commands, commandUuid);
      if (sequence === null) {
        return false;
      }

      await manager.update(
        CommandEntity,
        { enrollmentId, commandUuid },
        { sequence, updatedAt: new Date() },
      );

      return true;
    });
  }

  /**
   * One request on the command URL: opens a session on Idle, applies the result, and picks and
   * marks the command to answer with, all in one transaction.
   */
  async report(input: ReportInput): Promise<ReportOutcome> {
    this.lastSeen.note(input.enrollmentId, new Date());

    return this.transaction(async (manager) => {
      const now = new Date();
      const enrollment = await this.lockEnrollment(manager, input.enrollmentId, input.udid);
      const session = sessionForReport(input.status, enrollment.sessionId, randomUUID);
      const opened = { sessionId: session.sessionId, sessionStarted: session.started };
      const statements = this.reportStatements();
      if (session.started) {
        await this.gate.write(statements.sessionOpened, [
          input.enrollmentId,
          session.sessionId,
          now,
        ]);
      }

      const reported = input.commandUuid ? await this.findReported(manager, input) : null;
      const decision = decideReport(input, reported, session.sessionId);
      let changed: CommandRef | null = null;
      let deviceConfiguredAt = enrollment.deviceConfiguredAt;
      if (reported && (decision.kind === 'finish' || decision.kind === 'not-now')) {
        await this.gate.write(statements.commandResult, [
          reported.enrollmentId,
          reported.commandUuid,
          decision.kind === 'finish' ? decision.state : 'not-now',
          decision.kind === 'finish' ? null : session.sessionId,
          now,
        ]);
        changed = refOf(reported);
        if (
          decision.kind === 'finish' &&
          decision.state === 'acknowledged' &&
          reported.requestType === 'DeviceConfigured' &&
          !deviceConfiguredAt
        ) {
          deviceConfiguredAt = now;
          await this.gate.updateBy(
            EnrollmentQueueEntity,
            { enrollmentId: input.enrollmentId },
            { deviceConfiguredAt: now, updatedAt: now },
          );
        }
      }

      const pending = (
        await this.gate.select<PendingQueueRow>(statements.pendingQueue, [input.enrollmentId])
      ).map((row) => pendingQueueEntry(input.enrollmentId, row));
      const choice = chooseNext(pending, session.sessionId, deviceConfiguredAt);
      for (const { entry } of choice.refused) {
        await this.gate.updateBy(
          CommandEntity,
          { enrollmentId: entry.enrollmentId, commandUuid: entry.commandUuid },
          { state: 'refused', updatedAt: now },
        );
      }
      const refused = choice.refused.map(({ entry, reason }) => ({ ...refOf(entry), reason }));
      if (!choice.next) {
        return { ...opened, decision, changed, refused, next: null };
      }
      // Only the command answered with is read whole: its body and what it waits for.
      const next = await this.gate.findOneBy(CommandEntity, {
        enrollmentId: input.enrollmentId,
        commandUuid: choice.next.commandUuid,
      });
      if (!next) {
        throw new Error(`command ${choice.next.commandUuid} left the queue while it was read`);
      }
      const held = heldOf(next);
      if (held) {
        return {
          ...opened,
          decision,
          changed,
          refused,
          next: { ...refOf(next), body: next.body, deliveries: next.deliveries + 1, held },
        };
      }
      const deliveries = next.deliveries + 1;
      await this.gate.write(statements.commandDelivered, [
        next.enrollmentId,
        next.commandUuid,
        deliveries,
        now,
      ]);

      return {
        ...opened,
        decision,
        changed,
        refused,
        next: { ...refOf(next), body: next.body, deliveries },
      };
    });
  }

  /**
   * Records the delivery of a command {@link report} chose but left unrecorded, once its
   * secrets are in hand. False when the command changed meanwhile (superseded, or handed out to a
   * concurrent request of the same device): then it must not be sent.
   */
  async recordDelivery(command: DeliveredCommand): Promise<boolean> {
    const before = command.held;
    if (!before) {
      return true;
    }

    return this.transaction(async (manager) => {
      const now = new Date();
      await this.lockEnrollment(manager, command.enrollmentId, command.udid);
      const result = await manager.update(
        CommandEntity,
        {
          enrollmentId: command.enrollmentId,
          commandUuid: command.commandUuid,
          state: before.stateBefore,
          deliveries: command.deliveries - 1,
        },
        {
          state: 'delivered',
          deliveries: command.deliveries,
          lastDeliveredAt: now,
          updatedAt: now,
        },
      );

      return result.affected === 1;
    });
  }

  /**
   * Closes a held command {@link report} chose as refused: what it waited for will never come
   * (its RTS cycle is over, its profile changed). False when the command changed meanwhile.
   */
  async refuseHeld(command: DeliveredCommand): Promise<boolean> {
    const before = command.held;
    if (!before) {
      return false;
    }

    return this.transaction(async (manager) => {
      await this.lockEnrollment(manager, command.enrollmentId, command.udid);
      const result = await manager.update(
        CommandEntity,
        {
          enrollmentId: command.enrollmentId,
          commandUuid: command.commandUuid,
          state: before.stateBefore,
          deliveries: command.deliveries - 1,
        },
        { state: 'refused', updatedAt: new Date() },
      );

      return result.affected === 1;
    });
  }

  /** A command of the enrollment that still waits for its result, or null. */
  async findPending(enrollmentId: string, commandUuid: string): Promise<CommandRef | null> {
    return this.transaction(async (manager) => {
      const command = await manager.findOneBy(CommandEntity, {
        enrollmentId,
        commandUuid,
        state: PENDING,
      });

      return command ? refOf(command) : null;
    });
  }

  /** Commands not yet finished, by state, every pending state listed (metrics, at scrape time). */
  async countPending(): Promise<Record<string, number>> {
    return this.transaction(async (manager) => {
      // One grouped count over the state index, however long the finished history grows.
      const rows = await manager
        .createQueryBuilder(CommandEntity, 'command')
        .select('command.state', 'state')
        .addSelect('COUNT(*)', 'count')
        .where('command.state IN (:...states)', { states: [...PENDING_STATES] })
        .groupBy('command.state')
        .getRawMany<{ state: string; count: string | number }>();
      const counts: Record<string, number> = Object.fromEntries(
        PENDING_STATES.map((state) => [state, 0]),
      );
      for (const row of rows) {
        counts[row.state] = Number(row.count);
      }

      return counts;
    });
  }

  /** The enrollment's commands in queue order (operators and tests). */
  async listCommands(enrollmentId: string): Promise<CommandView[]> {
    return this.transaction(async (manager) => {
      const commands = await manager.find(CommandEntity, {
        where: { enrollmentId },
        order: { sequence: 'ASC', commandUuid: 'ASC' },
      });

      return commands.map((command) => ({
        ...refOf(command),
        sequence: command.sequence,
        state: command.state,
        deliveries: command.deliveries,
        notNowSessionId: command.notNowSessionId,
      }));
    });
  }

  // The report's own enrollment first; a command of another enrollment is only looked up so the
  // log can say why the report was ignored.
  private async findReported(
    manager: EntityManager,
    input: ReportInput,
  ): Promise<CommandEntity | null> {
    const own = await this.gate.findOneBy(CommandEntity, {
      enrollmentId: input.enrollmentId,
      commandUuid: input.commandUuid,
    });

    return (
      own ?? (await manager.findOne(CommandEntity, { where: { commandUuid: input.commandUuid } }))
    );
  }

  private reportStatements(): ReportStatements {
    this.statements ??= reportStatements(this.gate);

    return this.statements;
  }

  private async lockEnrollment(
    manager: EntityManager,
    enrollmentId: string,
    udid: string,
  ): Promise<EnrollmentQueueEntity> {
    // The row exists for every request but an enrollment's first: read it, and write only then.
    const found = await this.gate.findOneBy(
      EnrollmentQueueEntity,
      { enrollmentId },
      { lock: true },
    );
    if (found) {
      return found;
    }
    // Two first requests may race here: one inserts, the other's insert is ignored, and both then
    // read (on PostgreSQL, lock) the one row.
    await manager
      .createQueryBuilder()
      .insert()
      .into(EnrollmentQueueEntity)
      .values({
        enrollmentId,
        udid,
        status: 'active',
        sessionId: null,
        sessionStartedAt: null,
        deviceConfiguredAt: null,
        updatedAt: new Date(),
      })
      .orIgnore()
      .execute();

    const inserted = await this.gate.findOneBy(
      EnrollmentQueueEntity,
      { enrollmentId },
      { lock: true },
    );
    if (!inserted) {
      throw new Error(`enrollment ${enrollmentId} has no queue row after inserting one`);
    }

    return inserted;
  }

  /** Runs `work` as one transaction: every repository call and staged event inside it commit together. */
  unitOfWork<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.transaction(() => work());
  }

  private transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.gate.transaction(work);
  }
}
