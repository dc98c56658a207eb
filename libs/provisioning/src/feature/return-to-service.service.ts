import { randomUUID } from 'node:crypto';

import { setImmediate as nextTurn } from 'node:timers/promises';

import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';

import {
  CheckEnrollmentPolicy,
  ClearActivationLock,
  CycleTrigger,
  DataOf,
  DescribeBootstrapToken,
  IssueEnrollmentProfile,
  PrepareDeviceReturnToService,
  RenderReturnToServiceProfiles,
  ReplyOf,
  ReturnToServiceAnswered,
} from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, runWithNewLogContext } from '@turnaround/platform';
import { buildDeviceInformation, buildEraseDevice } from '@turnaround/protocol';

import { inferDeviceTrigger, preservationBlocker } from '../domain/app-preservation.js';
import {
  AdeAssignment,
  mdmProfileNeed,
  RTS_MINIMUM_OS,
  RTS_UNSUPPORTED_PLATFORMS,
} from '../domain/mdm-profile-rule.js';
import { compareOsVersions, decideEnrollment, OsPolicy } from '../domain/os-policy.js';
import { ProvisioningError } from '../domain/provisioning.errors.js';
import { isTerminal } from '../domain/rts-cycle.js';
import {
  ActiveCycleExistsError,
  ManagedDevice,
  ProvisioningRepository,
  RtsConfiguration,
  RtsCycle,
} from '../data-access/provisioning.repository.js';
import { CycleService, queued } from './cycle.service.js';
import { PROVISIONING_SETTINGS } from './provisioning.settings.js';
import type { ProvisioningSettings } from './provisioning.settings.js';

const TRIGGER_CONCURRENCY = 8;
/** States in which the device's next enrollment is the one that follows the erase. */
const AWAITING_REENROLLMENT = new Set(['erase-queued', 'erase-acknowledged']);
// A device-triggered cycle waits for check-in to say it answered the device; check-in's own
// request timeout is seconds, so a minute without word means the answer never went out.
const DEVICE_ANSWER_DEADLINE_MS = 60_000;

/**
 * How long a clear of Activation Lock may wait for escrow, which waits for Apple's unlock
 * endpoint: longer than an ordinary request between services.
 */
export function clearTimeoutMs(settings: Pick<ProvisioningSettings, 'requestTimeoutMs'>): number {
  return settings.requestTimeoutMs * 5;
}

export interface TriggerResult {
  udid: string;
  cycleId?: string;
  error?: { code: string; message: string };
}

/** What the erase (or the answer to the device's own request) carries, apart from the token. */
interface ReturnToServicePieces {
  wifiProfileData?: Buffer;
  mdmProfileData?: Buffer;
  mdmProfileBecause: string | null;
  preserveDataPlan: boolean;
}

type PrepareReply = ReplyOf<typeof PrepareDeviceReturnToService>;
type PolicyReply = ReplyOf<typeof CheckEnrollmentPolicy>;
type ProfilesReply = ReplyOf<typeof RenderReturnToServiceProfiles>;

/**
 * Starts Return to Service cycles: from the admin API (an erase is queued) or from the device's
 * ReturnToService check-in (check-in answers with the same dictionary). Decides whether the cycle
 * keeps the apps, clears Activation Lock first, and gates the enrollment after the erase on the
 * configuration's OS-version policy.
 */
@Injectable()
export class ReturnToServiceService implements BeforeApplicationShutdown {
  private readonly logger = createLogger('ReturnToServiceService');
  /** Clears and erases running after a lock check's handler committed, by cycle id. */
  private readonly afterCommitStarts = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
    @Inject(PROVISIONING_SETTINGS) private readonly settings: ProvisioningSettings,
  ) {}

  /** One result per device; one device's refusal never stops the others. */
  async trigger(udids: string[], configurationName: string): Promise<TriggerResult[]> {
    const configuration = await this.requireConfiguration(configurationName);
    const results: TriggerResult[] = new Array(udids.length);
    let next = 0;
    // A few devices at a time: issuing identities and queueing erases overlap, and one device's
    // slow step does not hold the rest.
    const worker = async (): Promise<void> => {
      for (let index = next++; index < udids.length; index = next++) {
        results[index] = await this.startOne(udids[index]!, configuration);
      }
    };
    await Promise.all(Array.from({ length: Math.min(TRIGGER_CONCURRENCY, udids.length) }, worker));

    return results;
  }

  /**
   * The device asked for Return to Service itself (user or idle trigger). Answers whether RTS is on
   * for it and, if so, starts the cycle and hands check-in the pieces of the answer. Never throws:
   * every refusal is an answer with `enabled` false and the reason.
   */
  async prepareForDevice(udid: string, enrollmentId: string): Promise<PrepareReply> {
    try {
      const device = await this.repository.findDevice(udid);
      if (!device || device.enrollmentId !== enrollmentId) {
        return this.refuse(udid, `device ${udid} is not known with enrollment ${enrollmentId}`);
      }
      if (!device.rtsConfigurationId) {
        return this.refuse(udid, 'no RTS configuration is assigned to the device');
      }
      const configuration = await this.repository.findConfiguration(device.rtsConfigurationId);
      if (!configuration) {
        return this.refuse(udid, 'the RTS configuration assigned to the device no longer exists');
      }
      await this.eligible(device, configuration);
      const trigger = inferDeviceTrigger(configuration.temporarySessionTimeout, device.inServiceSince, new Date());
      const pieces = await this.piecesFor(device, configuration);
      const cycle = await this.open(device, configuration, trigger, pieces.mdmProfileBecause, null);
      const blocked = await this.clearActivationLock(device, cycle, device.supervised === true);
      if (blocked) {
        return { enabled: false, reason: blocked, cycleId: cycle.id };
      }
      this.logger.info({ udid, cycleId: cycle.id, trigger, preserveApps: cycle.preserveApps }, 'return to service answered for the device');

      return {
        enabled: true,
        cycleId: cycle.id,
        trigger,
        ...(pieces.wifiProfileData ? { wifiProfileData: pieces.wifiProfileData.toString('base64') } : {}),
        ...(pieces.mdmProfileData ? { mdmProfileData: pieces.mdmProfileData.toString('base64') } : {}),
        ...(pieces.preserveDataPlan ? { preserveDataPlan: true } : {}),
        attachBootstrapToken: cycle.preserveApps,
      };
    } catch (error) {
      if (error instanceof ProvisioningError || error instanceof ActiveCycleExistsError) {
        return this.refuse(udid, error.message);
      }
      this.logger.error({ udid, err: error }, 'return to service for the device could not be prepared');

      return this.refuse(udid, `the service could not prepare Return to Service: ${(error as Error).message}`);
    }
  }

  /** Check-in answered the device: it erases now, or it was told no after all. */
  async answered(event: DataOf<typeof ReturnToServiceAnswered>, causationId: string): Promise<void> {
    if (!event.cycleId) {
      return;
    }
    const cycle = await this.repository.findCycle(event.cycleId);
    if (!cycle || cycle.udid !== event.udid) {
      this.logger.warn({ udid: event.udid, cycleId: event.cycleId }, 'answer for an unknown cycle ignored');

      return;
    }
    if (!event.enabled) {
      await this.cycles.apply(cycle, { type: 'start-failed', reason: 'the device was answered Enabled false: check-in could not complete the answer (see its log)' }, causationId);

      return;
    }
    if (cycle.preserveApps && !event.bootstrapTokenIncluded) {
      await this.cycles.declinePreservation(cycle, 'no bootstrap token was in escrow when the device was answered');
    }
    await this.cycles.apply(cycle, { type: 'erase-answered' }, causationId);
  }

  /**
   * The device is about to fetch its enrollment profile. Only the enrollment that follows an erase
   * of ours is gated: Apple's 403 is how an app-preservation device moves its OS (updates are
   * blocked there, since restoring the snapshot would undo them).
   */
  async enrollmentPolicy(request: DataOf<typeof CheckEnrollmentPolicy>): Promise<PolicyReply> {
    const device = await this.repository.findDevice(request.udid);
    const cycle = device?.currentCycleId ? await this.repository.findCycle(device.currentCycleId) : null;
    if (!cycle || !AWAITING_REENROLLMENT.has(cycle.state)) {
      return { action: 'enroll' };
    }
    const configuration = await this.repository.findConfiguration(cycle.configurationId);
    if (!configuration?.osPolicy) {
      return { action: 'enroll' };
    }
    const decision = decideEnrollment(JSON.parse(configuration.osPolicy) as OsPolicy, {
      product: request.product ?? device?.productName ?? undefined,
      osVersion: request.osVersion,
      supplementalOsVersionExtra: request.supplementalOsVersionExtra,
    });
    if (decision.action === 'update') {
      const note = `software update required before enrollment: ${request.osVersion ?? 'unknown'} → ${decision.osVersion}`;
      await this.repository.noteOnCycle(cycle.id, cycle.state, note, new Date());
      this.logger.info({ udid: request.udid, cycleId: cycle.id, from: request.osVersion, to: decision.osVersion }, 'software update required');

      return { action: 'update', osVersion: decision.osVersion, ...(decision.buildVersion ? { buildVersion: decision.buildVersion } : {}) };
    }
    if ('reason' in decision && decision.reason) {
      await this.repository.noteOnCycle(cycle.id, cycle.state, `enrolled without an update: ${decision.reason}`, new Date());
    }

    return { action: 'enroll' };
  }

  private refuse(udid: string, reason: string): PrepareReply {
    this.logger.info({ udid, reason }, 'return to service refused to the device');

    return { enabled: false, reason };
  }

  private async startOne(udid: string, configuration: RtsConfiguration): Promise<TriggerResult> {
    try {
      return { udid, cycleId: await this.start(udid, configuration) };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'INTERNAL';
      if (!(error instanceof ProvisioningError || error instanceof ActiveCycleExistsError)) {
        this.logger.error({ udid, err: error }, 'return to service could not start');
      }

      return { udid, error: { code, message: (error as Error).message } };
    }
  }

  private async start(udid: string, configuration: RtsConfiguration): Promise<string> {
    const device = await this.repository.findDevice(udid);
    if (!device) {
      throw new ProvisioningError('DEVICE.NOT_FOUND', `no enrolled device ${udid} (a device that has just enrolled is known a moment later)`);
    }
    await this.eligible(device, configuration);
    const need = this.mdmProfileNeedOf(device, configuration);
    const cycle = await this.open(device, configuration, 'service', need.required ? need.because : null, randomUUID().toUpperCase());
    // The device keeps this configuration for the RTS it may later ask for itself.
    await this.repository.updateDevice(udid, { rtsConfigurationId: configuration.id });
    // An unsupervised device's bypass code cannot be had, so for it the last report decides.
    if (device.supervised === true) {
      await this.startFailsWith(cycle, () => this.queueLockCheck(cycle));

      return cycle.id;
    }
    await this.startFailsWith(cycle, async () => this.eraseNow(cycle, device, configuration));

    return cycle.id;
  }

  /**
   * The device answered whether Activation Lock is on (its facts are stored): clear it, then erase.
   *
   * Inside the answer's handler the erase is queued in the handler's own transaction when no clear
   * is needed. A clear asks escrow, which asks Apple, for up to five request timeouts: that must
   * not hold the transaction (on SQLite the one writer lock), so only the answer is recorded on
   * the cycle there, and the clear and the erase follow the commit. If they cannot, or the process
   * stops first, the cycle timer takes the recorded answer up again.
   */
  async lockChecked(cycle: RtsCycle, causationId?: string): Promise<void> {
    if (!awaitsErase(cycle)) {
      return;
    }
    const device = await this.repository.findDevice(cycle.udid);
    const configuration = await this.repository.findConfiguration(cycle.configurationId);
    if (!device || !configuration) {
      await this.cycles.apply(cycle, { type: 'start-failed', reason: 'the device or its RTS configuration is gone' }, causationId);

      return;
    }
    if (this.repository.inUnitOfWork) {
      cycle.lockCheckedAt = new Date();
      if (clearNeeded(device, false)) {
        await this.repository.updateCycle(cycle.id, { lockCheckedAt: cycle.lockCheckedAt });
        this.repository.afterCommit(() => this.clearAfterCommit(cycle));

        return;
      }
    }
    try {
      await this.startFailsWith(cycle, async () => this.eraseNow(cycle, device, configuration));
    } catch (error) {
      if (this.repository.inUnitOfWork) {
        // The handler's transaction must roll back whole, or the cycle could commit as
        // erase-queued without its erase; its message is retried, and past that the cycle timer
        // takes the start up again.
        throw error;
      }
      this.logger.warn({ udid: cycle.udid, cycleId: cycle.id, reason: (error as Error).message }, 'erase not queued after the activation lock check');
    }
  }

  /**
   * Takes up a start that a stopped process left before its erase (the cycle timer, after a quiet
   * time). A supervised device that was never asked whether Activation Lock is on is asked now,
   * as a start asks it; every other start goes on to the clear and the erase.
   */
  async resumeStart(cycle: RtsCycle): Promise<void> {
    if (this.afterCommitStarts.has(cycle.id)) {
      // Its clear is still under way in this process (escrow may take longer than the quiet time).
      return;
    }
    if (cycle.lockCheckCommandUuid === null && (await this.repository.findDevice(cycle.udid))?.supervised === true) {
      try {
        await this.startFailsWith(cycle, () => this.queueLockCheck(cycle));
      } catch (error) {
        this.logger.warn({ udid: cycle.udid, cycleId: cycle.id, reason: (error as Error).message }, 'activation lock check not queued for the resumed start');
      }

      return;
    }
    await this.lockChecked(cycle);
  }

  /** Resolves once the clears and erases started after a commit have ended. */
  async settled(): Promise<void> {
    while (this.afterCommitStarts.size > 0) {
      await Promise.all([...this.afterCommitStarts.values()]);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // A clear cut off halfway would leave the cycle to the next process's timer half a minute on.
    await this.settled();
  }

  /**
   * The Wi-Fi and enrollment profiles of a queued erase, asked for by the commands service as it
   * delivers it: they never travel in EnqueueCommands, which every subscriber, the outbox and any
   * dead letter would hold. Only while the cycle waits for that erase (a stalled one may resume).
   */
  async renderProfiles(udid: string, cycleId: string): Promise<ProfilesReply> {
    const cycle = await this.repository.findCycle(cycleId);
    const erasing = cycle?.state === 'erase-queued' || (cycle?.state === 'stalled' && cycle.stalledIn === 'erase-queued');
    if (!cycle || cycle.udid !== udid || !erasing) {
      throw new ProvisioningError('CYCLE.NOT_ERASING', `cycle ${cycleId} of ${udid} does not wait for its erase (${cycle?.state ?? 'unknown'})`);
    }
    const device = await this.repository.findDevice(udid);
    const configuration = await this.repository.findConfiguration(cycle.configurationId);
    if (!device || !configuration) {
      throw new ProvisioningError('CYCLE.NOT_ERASING', `the device or the RTS configuration of cycle ${cycleId} is gone`);
    }
    const pieces = await this.piecesFor(device, configuration);
    this.logger.info(
      { udid, cycleId, wifiProfile: pieces.wifiProfileData !== undefined, mdmProfileData: pieces.mdmProfileBecause ?? 'not needed' },
      'return to service profiles rendered',
    );

    return {
      ...(pieces.wifiProfileData ? { wifiProfileData: pieces.wifiProfileData.toString('base64') } : {}),
      ...(pieces.mdmProfileData ? { mdmProfileData: pieces.mdmProfileData.toString('base64') } : {}),
    };
  }

  /**
   * Clears Activation Lock if it is on, then queues the erase; a lock that stays on blocks the
   * cycle. The queued erase holds no profile: the commands service asks for them at delivery.
   */
  private async eraseNow(cycle: RtsCycle, device: ManagedDevice, configuration: RtsConfiguration): Promise<void> {
    if (await this.clearActivationLock(device, cycle)) {
      return;
    }
    const attachProfiles = Boolean(configuration.wifiProfile) || cycle.mdmProfileBecause !== null;
    const erase = {
      commandUuid: cycle.eraseCommandUuid!,
      requestType: 'EraseDevice',
      command: buildEraseDevice({
        ...(configuration.preserveDataPlan ? { preserveDataPlan: true } : {}),
        returnToService: { enabled: true },
      }),
      ...(cycle.preserveApps ? { attachBootstrapToken: { reason: `erase for cycle ${cycle.id}` } } : {}),
      ...(attachProfiles ? { attachReturnToServiceProfiles: { cycleId: cycle.id } } : {}),
    };
    // The erase is queued exactly when the cycle says so: both commit together or neither does.
    await this.repository.unitOfWork(async () => {
      if (await this.cycles.apply(cycle, { type: 'erase-queued' })) {
        await this.cycles.enqueue(cycle.udid, cycle.enrollmentId, [erase], cycle.id);
      }
    });
    this.logger.info(
      {
        udid: cycle.udid,
        cycleId: cycle.id,
        commandUuid: erase.commandUuid,
        configuration: configuration.name,
        preserveApps: cycle.preserveApps,
        mdmProfileData: cycle.mdmProfileBecause ?? 'not needed',
      },
      'return to service queued',
    );
  }

  /**
   * Asks a supervised device, right before its erase, whether Activation Lock is on; the cycle goes
   * on when it answers (lockChecked). A person may have turned it on since the device last said.
   */
  private async queueLockCheck(cycle: RtsCycle): Promise<void> {
    const check = queued(buildDeviceInformation(['IsActivationLockEnabled']));
    const deadlineAt = new Date(Date.now() + this.settings.phaseDeadlineSeconds * 1000);
    const claimed = await this.repository.unitOfWork(async () => {
      if (!(await this.repository.claimLockCheck(cycle.id, check.commandUuid, deadlineAt))) {
        return false;
      }
      await this.cycles.enqueue(cycle.udid, cycle.enrollmentId, [check], cycle.id);

      return true;
    });
    if (!claimed) {
      return;
    }
    cycle.lockCheckCommandUuid = check.commandUuid;
    cycle.deadlineAt = deadlineAt;
    this.logger.info({ udid: cycle.udid, cycleId: cycle.id, commandUuid: check.commandUuid }, 'activation lock checked before the erase');
  }

  /**
   * Called once the lock check's handler committed: clears Activation Lock and queues the erase,
   * outside any transaction. Runs on a later turn, when the committed unit has let go of the
   * database; what fails is logged and left to the cycle timer.
   */
  private clearAfterCommit(answered: RtsCycle): void {
    const { id: cycleId, udid } = answered;
    if (this.afterCommitStarts.has(cycleId)) {
      return;
    }
    const work = nextTurn()
      .then(() => runWithNewLogContext('activation-lock-clear', async () => {
        // Read again: the cycle may have moved on (replaced, or its start taken up elsewhere).
        const cycle = await this.repository.findCycle(cycleId);
        if (!cycle || !awaitsErase(cycle)) {
          return;
        }
        const device = await this.repository.findDevice(udid);
        const configuration = await this.repository.findConfiguration(cycle.configurationId);
        if (!device || !configuration) {
          throw new Error('the device or its RTS configuration is gone');
        }
        await this.eraseNow(cycle, device, configuration);
      }))
      .catch((error: unknown) => {
        this.logger.warn({ udid, cycleId, reason: (error as Error).message }, 'activation lock not cleared after the lock check; the cycle timer takes the start up again');
      })
      .finally(() => this.afterCommitStarts.delete(cycleId));
    this.afterCommitStarts.set(cycleId, work);
  }

  /** A cycle whose next command cannot be queued fails at once rather than stall an hour later. */
  private async startFailsWith(cycle: RtsCycle, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await this.cycles.apply(cycle, { type: 'start-failed', reason: `the cycle could not start: ${(error as Error).message}` }).catch(() => false);
      throw error;
    }
  }

  /**
   * Stores the new cycle (requested) and announces it. App preservation is decided here, once:
   * asked for by the configuration, allowed by the device, and a bootstrap token in escrow. When
   * it is asked for and cannot be had, the cycle still runs, as a standard RTS, and says why.
   */
  private async open(
    device: ManagedDevice,
    configuration: RtsConfiguration,
    trigger: CycleTrigger,
    mdmProfileBecause: string | null,
    eraseCommandUuid: string | null,
  ): Promise<RtsCycle> {
    const declined = configuration.preserveApps ? await this.preservationDeclined(device) : null;
    const now = new Date();
    const cycle: RtsCycle = {
      id: randomUUID(),
      udid: device.udid,
      configurationId: configuration.id,
      configurationName: configuration.name,
      trigger,
      state: 'requested',
      stalledIn: null,
      reason: null,
      enrollmentId: device.enrollmentId!,
      newEnrollmentId: null,
      eraseCommandUuid,
      releaseCommandUuid: null,
      planSteps: '{}',
      mdmProfileBecause,
      preserveApps: configuration.preserveApps && declined === null,
      preservationDeclined: declined,
      snapshotCommandUuid: null,
      lockCheckCommandUuid: null,
      lockCheckedAt: null,
      releaseHeld: false,
      snapshotNotNows: 0,
      snapshotApps: null,
      snapshotStartedAt: null,
      requestedAt: now,
      eraseQueuedAt: null,
      eraseAcknowledgedAt: null,
      provisioningAt: null,
      configuredAt: null,
      returnedAt: null,
      endedAt: null,
      // Every cycle has a deadline from its first moment: a cycle stuck in requested (its start
      // interrupted) would otherwise hold the device for good.
      deadlineAt: new Date(now.getTime() + (eraseCommandUuid ? this.settings.phaseDeadlineSeconds * 1000 : DEVICE_ANSWER_DEADLINE_MS)),
      releaseDueAt: null,
      updatedAt: now,
    };
    await this.repository.unitOfWork(async () => {
      await this.repository.startCycle(cycle);
      await this.cycles.announceRequested(cycle);
      if (declined) {
        await this.cycles.announceDeclined(cycle, declined);
      }
      if (configuration.osPolicy && mdmProfileBecause) {
        // Section 15 #19: a device handed its enrollment profile never fetches one, so the 403
        // that would make it update has nowhere to go.
        await this.repository.noteOnCycle(cycle.id, cycle.state, `the OS-version policy cannot apply: the erase carries MDMProfileData (${mdmProfileBecause}), so the device does not fetch its profile where a software update could be required`, now);
      }
    });

    return cycle;
  }

  private async preservationDeclined(device: ManagedDevice): Promise<string | null> {
    const blocker = preservationBlocker(device);
    if (blocker) {
      return blocker;
    }
    try {
      const status = await this.bus.request(DescribeBootstrapToken, { udid: device.udid }, { subject: device.udid, timeoutMs: this.settings.requestTimeoutMs });

      return status.present ? null : 'no bootstrap token is escrowed for the device (it sends one with SetBootstrapToken after its first enrollment)';
    } catch (error) {
      // Without knowing, promising to keep the apps would be a guess: run standard RTS and say so.
      return `escrow could not be asked whether a bootstrap token is escrowed: ${(error as Error).message}`;
    }
  }

  /**
   * Activation Lock left on stops an erased device in Setup Assistant for a person, so it is
   * cleared first, with the bypass code escrow holds. Returns why the cycle is blocked, or null.
   *
   * `preemptive`: the device asked for RTS itself, so it cannot be asked first whether the lock is
   * on, and what it said last may be stale (a person may have turned Find My on since). A
   * supervised device's lock is then cleared anyway; if that fails while the device last said the
   * lock was off, the cycle goes on and records it.
   */
  private async clearActivationLock(device: ManagedDevice, cycle: RtsCycle, preemptive = false): Promise<string | null> {
    if (!clearNeeded(device, preemptive)) {
      return null;
    }
    const known = device.activationLockEnabled === true;
    let failure: string | null;
    if (!device.serialNumber || !device.productName) {
      failure = 'the device has not reported its serial number and product type yet';
    } else {
      try {
        const result = await this.bus.request(
          ClearActivationLock,
          { udid: device.udid, serialNumber: device.serialNumber, productType: device.productName, reason: `erase for cycle ${cycle.id}`, requestedBy: 'provisioning' },
          { subject: device.udid, correlationId: cycle.id, timeoutMs: clearTimeoutMs(this.settings) },
        );
        failure = result.outcome === 'cleared' ? null : `${result.outcome}${result.detail ? `: ${result.detail}` : ''}`;
      } catch (error) {
        failure = `escrow could not be asked: ${(error as Error).message}`;
      }
    }
    if (!failure) {
      this.logger.info({ udid: device.udid, cycleId: cycle.id, preemptive }, 'activation lock cleared');

      return null;
    }
    if (!known) {
      await this.repository.noteOnCycle(cycle.id, cycle.state, `Activation Lock could not be cleared ahead of the erase (${failure}); the device last said it was off`, new Date());

      return null;
    }
    const reason = `Activation Lock is on and could not be cleared (${failure}); no erase was sent`;
    await this.cycles.apply(cycle, { type: 'blocked', reason });

    return reason;
  }

  /** The device, if Return to Service may start for it now with this configuration; otherwise why not. */
  private async eligible(device: ManagedDevice, configuration: RtsConfiguration): Promise<void> {
    const udid = device.udid;
    if (device.enrollmentStatus !== 'enrolled' || !device.enrollmentId) {
      throw new ProvisioningError('DEVICE.NOT_ENROLLED', `device ${udid} is not enrolled`);
    }
    // Apple allows EraseDevice, and so Return to Service, on the device channel only (B22).
    if (device.userEnrollment) {
      throw new ProvisioningError('DEVICE.USER_ENROLLMENT', `device ${udid} is a User Enrollment; Return to Service needs a device enrollment`);
    }
    if (RTS_UNSUPPORTED_PLATFORMS.has(device.platform)) {
      throw new ProvisioningError('DEVICE.RTS_UNSUPPORTED', `Return to Service does not exist on ${device.platform}; ${udid} is a ${device.productName ?? device.platform}`);
    }
    if (device.currentCycleId) {
      // Checked again, atomically, when the cycle is stored; here it spares issuing a profile.
      const current = await this.repository.findCycle(device.currentCycleId);
      if (current && !isTerminal(current.state) && current.state !== 'stalled' && current.state !== 'blocked') {
        throw new ProvisioningError('CYCLE.ALREADY_ACTIVE', `cycle ${current.id} of ${udid} is still ${current.state}`);
      }
    }
    const minimum = RTS_MINIMUM_OS[device.platform];
    if (minimum && device.osVersion && (compareOsVersions(device.osVersion, minimum) ?? 0) < 0) {
      throw new ProvisioningError('DEVICE.OS_TOO_OLD', `Return to Service needs ${device.platform} ${minimum} or later; ${udid} runs ${device.osVersion}`);
    }
    if (configuration.osPolicy) {
      const decision = decideEnrollment(JSON.parse(configuration.osPolicy) as OsPolicy, { product: device.productName ?? undefined, osVersion: device.osVersion ?? undefined });
      if (decision.action === 'block') {
        throw new ProvisioningError('DEVICE.OS_UNSUPPORTED', `${udid}: ${decision.reason}`);
      }
    }
  }

  private mdmProfileNeedOf(device: ManagedDevice, configuration: RtsConfiguration): ReturnType<typeof mdmProfileNeed> {
    return mdmProfileNeed(device.enrolledViaAde, configuration.ade ? (JSON.parse(configuration.ade) as AdeAssignment) : null);
  }

  private async piecesFor(device: ManagedDevice, configuration: RtsConfiguration): Promise<ReturnToServicePieces> {
    const need = this.mdmProfileNeedOf(device, configuration);

    return {
      ...(configuration.wifiProfile ? { wifiProfileData: Buffer.from(configuration.wifiProfile, 'base64') } : {}),
      ...(need.required ? { mdmProfileData: await this.enrollmentProfile(device.udid, configuration) } : {}),
      mdmProfileBecause: need.required ? need.because : null,
      preserveDataPlan: configuration.preserveDataPlan,
    };
  }

  private async requireConfiguration(name: string): Promise<RtsConfiguration> {
    const configuration = await this.repository.findConfiguration(name);
    if (!configuration) {
      throw new ProvisioningError('CONFIGURATION.NOT_FOUND', `no RTS configuration named ${name}`);
    }

    return configuration;
  }

  private async enrollmentProfile(udid: string, configuration: RtsConfiguration): Promise<Buffer> {
    if (configuration.enrollmentProfile) {
      return Buffer.from(configuration.enrollmentProfile, 'base64');
    }
    try {
      const reply = await this.bus.request(IssueEnrollmentProfile, { udid }, { subject: udid, timeoutMs: this.settings.requestTimeoutMs });

      return Buffer.from(reply.profile, 'base64');
    } catch (error) {
      throw new ProvisioningError(
        'CYCLE.ENROLLMENT_PROFILE_UNAVAILABLE',
        `device ${udid} needs MDMProfileData and no enrollment profile could be issued: ${(error as Error).message}`,
      );
    }
  }
}

/** Whether a started cycle still waits for its erase to be queued (a stalled one may resume). */
function awaitsErase(cycle: RtsCycle): boolean {
  return cycle.state === 'requested' || (cycle.state === 'stalled' && cycle.stalledIn === 'requested');
}

/**
 * Whether Activation Lock is cleared before the erase: when the device last said it is on, and
 * whatever it said when the clear is `preemptive` (see clearActivationLock).
 */
function clearNeeded(device: ManagedDevice, preemptive: boolean): boolean {
  return preemptive || device.activationLockEnabled === true;
}
