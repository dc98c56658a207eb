import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

import { RequestSigner, type IdentityPem } from '@turnaround/identity';
import {
  decodePlist,
  isPlistDict,
  parseCommand,
  readEnrollmentProfile,
  type CommandEnvelope,
  type EnrollmentIdentity,
  type PlistDict,
  type PlistValue,
} from '@turnaround/protocol';

import { ActivationLock } from './activation-lock.js';
import {
  CommandResponder,
  errorChainItem,
  planReturnToService,
  type CommandEffect,
  type CommandResponderOptions,
  type DeviceView,
  type ErasePlan,
  type InstalledProfile,
  type ManagedApp,
} from './command-responder.js';
import { freshDeviceKeys, type DeviceKeySource } from './device-keys.js';
import { buildOf, type Hardware } from './hardware.js';
import { sleep } from './limiter.js';
import type { SimulatorLog } from './log.js';
import { MachineInfoSigner, signedMachineInfo } from './machine-info.js';
import { DeviceHttp, MdmClient, type DeviceAnswer, type RequestCounter } from './mdm-client.js';
import { jitter } from './random.js';
import { enrollScepIdentity } from './scep-enrollment.js';
import { DeviceHttpError, isAbort, messageOf } from './simulator.errors.js';

export type DeviceState =
  | 'new'
  | 'enrolling'
  | 'updating'
  | 'awaiting-configuration'
  | 'snapshotting'
  | 'in-service'
  | 'erasing'
  | 'failed'
  | 'stopped';

/** How a device asks for Return to Service itself: a person, or the idle timeout. */
export type DeviceTrigger = 'user' | 'idle';

export interface DeviceFailure {
  /** `stranded`: erased and unable to come back by itself; `error`: the device gave up. */
  kind: 'stranded' | 'error';
  reason: string;
  at: number;
}

export interface DeviceTiming {
  /** Poll interval range while the device has work (Apple devices keep the session going). */
  busyPollMs: readonly [number, number];
  /** Mean poll interval while nothing happens (stands in for waiting for a push). */
  idlePollMs: number;
  /** How long a device stays in the fast poll after its last command. */
  busyWindowMs: number;
  /** Mean time an erase takes before the device looks for a network. */
  eraseDelayMs: number;
  /** Mean time joining the Wi-Fi network takes. */
  networkJoinMs: number;
  /** How long an app reports Installing before it is Managed. */
  appInstallMs: number;
  /** Mean time of the snapshot window after DeviceConfigured (RTS with app preservation). */
  snapshotMs: number;
  /** Mean time a software update asked for during enrollment takes. */
  updateDelayMs: number;
  /** When a person starts Return to Service, counted from when the device is in service. */
  userTriggerMs: readonly [number, number];
  /** How long an armed idle trigger waits for the timeout to arrive before it gives up. */
  idleTimeoutGraceMs: number;
}

export const DEFAULT_TIMING: DeviceTiming = {
  busyPollMs: [200, 500],
  idlePollMs: 2_000,
  busyWindowMs: 3_000,
  eraseDelayMs: 1_500,
  networkJoinMs: 300,
  appInstallMs: 2_000,
  snapshotMs: 1_000,
  updateDelayMs: 2_000,
  userTriggerMs: [300, 3_000],
  idleTimeoutGraceMs: 15_000,
};

/** The device's own clock for one RTS cycle (epoch milliseconds). */
export interface CycleClock {
  /** The trigger request (service trigger), or the ReturnToService check-in (device triggers). */
  startedAt: number;
  eraseReceivedAt?: number;
  eraseAcknowledgedAt?: number;
  reenrolledAt?: number;
  /** DeviceConfigured acknowledged. */
  configuredAt?: number;
  /** App preservation: the snapshot is taken and the device says Idle again. */
  resumedAt?: number;
}

/** Counts that only grow; the orchestrator takes differences per cycle. */
export interface DeviceStats {
  /** Apps the device kept through an erase and that were reinstalled, so not downloaded. */
  preservedApps: number;
  downloadedApps: number;
  /** Apps kept through an erase but not reinstalled before DeviceConfigured, then removed. */
  removedApps: number;
  /** NotNow answers in the snapshot window after DeviceConfigured. */
  snapshotNotNow: number;
  /** Software updates the service asked for during enrollment (403). */
  softwareUpdates: number;
  preservingErases: number;
  fullErases: number;
}

/** What the device made of its own request for Return to Service in the current cycle. */
export interface ReturnToServiceRequest {
  trigger: DeviceTrigger;
  sentAt: number;
  /** Set once the service answered: whether it said Enabled true. */
  enabled?: boolean;
}

export interface SimulatedDeviceOptions {
  hardware: Hardware;
  /** Where the device fetches its enrollment profile, as the ADE profile's `url` would say. */
  enrollUrl: string;
  http: DeviceHttp;
  log: SimulatorLog;
  responder: CommandResponderOptions;
  timing?: Partial<DeviceTiming>;
  /** Whether somebody turns Activation Lock on whenever the device is in service. */
  activationLock?: boolean;
  /** Where the device's SCEP keys come from; default a new key per enrollment. */
  keys?: DeviceKeySource;
}

interface PendingResult {
  message: PlistDict;
  effect: CommandEffect;
}

interface App {
  state: ManagedApp['state'];
  since: number;
}

/** The current enrollment came back from an erase that kept the apps. */
interface Preservation {
  recorded: ReadonlySet<string>;
  reinstalled: Set<string>;
}

type Armed = Pick<TriggerTiming, 'trigger' | 'armedAt' | 'delayMs'>;

export const BOOTSTRAP_TOKEN_CAPABILITY = 'com.apple.mdm.bootstraptoken';

// A server that answers a command for ever would otherwise keep one session going for ever.
const MAX_COMMANDS_PER_SESSION = 200;
// Sessions in a row whose every retry failed before the device gives up.
const MAX_FAILED_SESSIONS = 5;
// Software updates in a row the device accepts within one enrollment before it calls it a loop.
const MAX_UPDATES_PER_ENROLLMENT = 3;
const SOFTWARE_UPDATE_REQUIRED = 'com.apple.softwareupdate.required';

/**
 * Apple offers RTS with app preservation (and the bootstrap token it rests on) on iOS, iPadOS and
 * visionOS 26 and later; tvOS has standard RTS only.
 */
export function supportsAppPreservation(hardware: Hardware): boolean {
  return hardware.platform !== 'tvos' && Number.parseInt(hardware.osVersion, 10) >= 26;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * One simulated iPhone, iPad, Apple TV or Vision Pro, supervised and enrolled through ADE:
 *
 *   new → enrolling (→ updating → enrolling) → awaiting-configuration → in-service
 *   in-service / awaiting-configuration → (EraseDevice, or its own ReturnToService check-in)
 *     erasing → enrolling → awaiting-configuration → [snapshotting →] in-service
 *   any → failed (stranded after an erase, or the service kept failing)
 *
 * `snapshotting` is RTS with app preservation (section 8.2 steps 9 to 12): after DeviceConfigured
 * the device answers NotNow while it downloads new apps, removes the kept ones nobody reinstalled
 * and takes its snapshot, then says Idle.
 */
export class SimulatedDevice {
  readonly hardware: Hardware;
  readonly counter: RequestCounter = { requests: 0 };
  readonly stats: DeviceStats = {
    preservedApps: 0,
    downloadedApps: 0,
    removedApps: 0,
    snapshotNotNow: 0,
    softwareUpdates: 0,
    preservingErases: 0,
    fullErases: 0,
  };
  readonly activationLock: ActivationLock;
  state: DeviceState = 'new';
  failure?: DeviceFailure;
  clock?: CycleClock;
  enrollments = 0;
  /** Whether the device handed its bootstrap token to the service (after its first enrollment). */
  bootstrapTokenEscrowed = false;
  /** This cycle's own request for Return to Service (user and idle triggers). */
  returnToServiceRequest?: ReturnToServiceRequest;
  /**
   * Why this cycle cannot go on although the device itself is fine: the service refused its
   * request for RTS, or it has no idle timeout to trigger on. Cleared by {@link beginCycle}.
   */
  cycleProblem?: string;

  private readonly timing: DeviceTiming;
  private readonly responder: CommandResponder;
  private client?: MdmClient;
  private topic = '';
  private awaitingConfiguration = false;
  private profiles: InstalledProfile[] = [];
  private apps = new Map<string, App>();
  private pending?: PendingResult;
  private erasePlan?: ErasePlan;
  private lastWorkAt = 0;
  private failedSessions = 0;
  private signer?: MachineInfoSigner;
  private bootstrapToken?: Buffer;
  private appPreservationMode = false;
  private preservation?: Preservation;
  /** Managed apps of the last snapshot, restored by the next erase that keeps the apps. */
  private snapshot?: ReadonlySet<string>;
  private snapshotUntil = 0;
  private temporarySessionTimeout?: number;
  private inServiceSince?: number;
  private armed?: Armed;

  constructor(private readonly options: SimulatedDeviceOptions) {
    this.hardware = options.hardware;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.responder = new CommandResponder(options.responder);
    this.activationLock = new ActivationLock(
      options.activationLock === true,
      options.hardware.productName,
    );
  }

  get udid(): string {
    return this.hardware.udid;
  }

  /** The idle timeout the device was given with the Settings command, in seconds. */
  get idleTimeoutSeconds(): number | undefined {
    return this.temporarySessionTimeout;
  }

  /** Starts the device's clock for a new RTS cycle. */
  beginCycle(startedAt = Date.now()): void {
    this.clock = { startedAt };
    this.returnToServiceRequest = undefined;
    this.cycleProblem = undefined;
    this.armed = undefined;
  }

  /**
   * The device will ask for Return to Service itself in this cycle: `user` a moment after it is
   * in service, `idle` once its idle timeout has passed since it went into service.
   */
  arm(trigger: DeviceTrigger, now = Date.now()): void {
    const [min, max] = trigger === 'user' ? this.timing.userTriggerMs : [200, 700];

    this.armed = { trigger, armedAt: now, delayMs: jitter(min, max) };
  }

  /** First enrollment through ADE; false when the device could not enroll (see `failure`). */
  async enroll(signal: AbortSignal): Promise<boolean> {
    try {
      await this.enrollWith(undefined, signal);

      return true;
    } catch (error) {
      if (isAbort(error, signal)) {
        this.state = 'stopped';

        return false;
      }

      this.fail('error', `enrollment failed: ${messageOf(error)}`);

      return false;
    }
  }

  /** Polls, answers commands and erases until the signal stops it or the device fails. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted && !this.hasFailed()) {
        if (this.erasePlan) {
          const plan = this.erasePlan;

          this.erasePlan = undefined;
          await this.eraseAndReturn(plan, signal);
          continue;
        }
        if (!this.client) {
          this.fail('error', 'not enrolled');
          break;
        }
        if (this.state === 'snapshotting') {
          await sleep(Math.max(0, this.snapshotUntil - Date.now()), signal);
          this.finishSnapshot();
        }
        if (this.untilTrigger() === 0) {
          await this.requestReturnToService(this.client, signal);
          continue;
        }

        const worked = await this.session(this.client, signal);

        if (!this.erasePlan && !this.hasFailed() && this.isSettled()) {
          await sleep(Math.min(this.nextPollDelay(worked), this.untilTrigger()), signal);
        }
      }
    } catch (error) {
      if (isAbort(error, signal)) {
        if (this.state !== 'failed') {
          this.state = 'stopped';
        }

        return;
      }

      this.fail('error', `unexpected error: ${messageOf(error)}`);
    }
  }

  // Methods rather than comparisons in place: the compiler would keep a narrowed state across
  // the awaits in between, which change it.
  private hasFailed(): boolean {
    return this.state === 'failed';
  }

  private isSettled(): boolean {
    return this.state !== 'snapshotting';
  }

  private fail(kind: DeviceFailure['kind'], reason: string): void {
    this.state = 'failed';
    this.failure = { kind, reason, at: Date.now() };
    this.options.log.warn(kind === 'stranded' ? 'device stranded' : 'device failed', {
      udid: this.udid,
      reason,
    });
  }

  private async enrollWith(
    profileData: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    this.state = 'enrolling';

    const bytes = profileData ?? (await this.fetchProfile(signal));
    const settings = readEnrollmentProfile(bytes);
    const signer = new RequestSigner(await this.identityFrom(settings.identity, signal));
    const client = new MdmClient(
      this.options.http,
      { serverUrl: settings.serverUrl, checkInUrl: settings.checkInUrl, signer },
      this.udid,
      this.counter,
    );
    const h = this.hardware;

    this.topic = settings.topic;
    await client.checkIn(
      {
        MessageType: 'Authenticate',
        UDID: h.udid,
        Topic: this.topic,
        OSVersion: h.osVersion,
        BuildVersion: h.buildVersion,
        ProductName: h.productName,
        SerialNumber: h.serialNumber,
      },
      signal,
    );
    // Every enrollment of these supervised ADE devices happens in Setup Assistant (first set-up
    // or after an erase), so it always awaits configuration.
    await client.checkIn(
      {
        MessageType: 'TokenUpdate',
        UDID: h.udid,
        Topic: this.topic,
        Token: randomBytes(32),
        PushMagic: randomUUID().toUpperCase(),
        AwaitingConfiguration: true,
      },
      signal,
    );
    // Apple: the device sends its bootstrap token after it first enrolls, and only to a server
    // that advertises the capability; it does not send it again later (B11).
    if (
      this.enrollments === 0 &&
      supportsAppPreservation(h) &&
      settings.serverCapabilities.includes(BOOTSTRAP_TOKEN_CAPABILITY)
    ) {
      await this.escrowBootstrapToken(client, signal);
    }

    const profile: InstalledProfile = {
      identifier: settings.profile.payloadIdentifier,
      uuid: settings.profile.payloadUUID,
    };

    if (settings.profile.payloadDisplayName !== undefined) {
      profile.displayName = settings.profile.payloadDisplayName;
    }

    this.client = client;
    this.profiles = [profile];
    this.awaitingConfiguration = true;
    this.state = 'awaiting-configuration';
    this.enrollments += 1;
    this.lastWorkAt = Date.now();
    this.options.log.info('device enrolled', {
      udid: this.udid,
      enrollment: this.enrollments,
      profile: profileData ? 'MDMProfileData' : 'fetched',
      keepsApps: this.preservation !== undefined,
    });
  }

  /** The profile's SCEP payload: the device makes its key and has the CA certify it. */
  private identityFrom(identity: EnrollmentIdentity, signal: AbortSignal): Promise<IdentityPem> {
    if (!('scep' in identity)) {
      throw new Error('the profile carries a PKCS#12 identity; simulated devices enroll with SCEP');
    }

    return enrollScepIdentity(identity.scep, this.options.keys ?? freshDeviceKeys, (request) =>
      this.options.http.send({ ...request, udid: this.udid }, this.counter, signal),
    );
  }

  private async escrowBootstrapToken(client: MdmClient, signal: AbortSignal): Promise<void> {
    const token = randomBytes(32);

    try {
      await client.checkIn(
        {
          MessageType: 'SetBootstrapToken',
          UDID: this.udid,
          BootstrapToken: token,
          AwaitingConfiguration: true,
        },
        signal,
      );
      this.bootstrapToken = token;
      this.bootstrapTokenEscrowed = true;
    } catch (error) {
      if (!(error instanceof DeviceHttpError)) {
        throw error;
      }

      // Without an escrowed token every later erase is a full one; the device enrolls anyway.
      this.options.log.warn('bootstrap token not escrowed', {
        udid: this.udid,
        reason: error.message,
      });
    }
  }

  /**
   * The ADE fetch: POST the signed MachineInfo to the profile's `url`. A 403
   * software-update-required answer makes the device update and ask again (section 6).
   */
  private async fetchProfile(signal: AbortSignal): Promise<Uint8Array> {
    this.signer ??= await MachineInfoSigner.create(`${this.hardware.productName} ${this.udid}`);

    for (let updates = 0; ; updates += 1) {
      const answer = await this.options.http.exchange(
        {
          what: 'enrollment profile',
          udid: this.udid,
          method: 'POST',
          url: this.options.enrollUrl,
          body: signedMachineInfo(this.hardware, this.signer),
          headers: { 'Content-Type': 'application/pkcs7-signature' },
        },
        this.counter,
        signal,
        [403],
      );

      if (answer.status !== 403) {
        return answer.body;
      }

      const target = readSoftwareUpdateRequired(answer);

      if (updates >= MAX_UPDATES_PER_ENROLLMENT) {
        throw new Error(
          `the service asked for a software update ${updates + 1} times in a row (now to ${target.osVersion}, the device runs ${this.hardware.osVersion})`,
        );
      }

      await this.update(target, signal);
    }
  }

  private async update(
    target: { osVersion: string; buildVersion?: string },
    signal: AbortSignal,
  ): Promise<void> {
    const h = this.hardware;
    const from = h.osVersion;

    this.state = 'updating';
    this.options.log.info('device updating', { udid: this.udid, from, to: target.osVersion });
    await sleep(jitter(this.timing.updateDelayMs * 0.8, this.timing.updateDelayMs * 1.2), signal);
    // OSVersion may carry a supplemental suffix such as "26.1 (a)"; the build comes from the
    // answer, else from the releases the simulator knows.
    h.buildVersion =
      target.buildVersion ??
      buildOf(h.platform, target.osVersion.split(' ')[0] ?? '') ??
      h.buildVersion;
    h.osVersion = target.osVersion;
    this.stats.softwareUpdates += 1;
    this.state = 'enrolling';
  }

  /** One command session: Idle (or a result still owed), then command after command. */
  private async session(client: MdmClient, signal: AbortSignal): Promise<boolean> {
    let next: PendingResult = this.pending ?? {
      message: { UDID: this.udid, Status: 'Idle' },
      effect: { kind: 'none' },
    };
    let worked = this.pending !== undefined;

    for (let i = 0; i < MAX_COMMANDS_PER_SESSION; i += 1) {
      // Kept until a 2xx arrives: Apple devices resend a result until the server takes it.
      this.pending = next.message['Status'] === 'Idle' ? undefined : next;

      let reply: Uint8Array;

      try {
        reply = await client.report(next.message, signal);
      } catch (error) {
        if (!(error instanceof DeviceHttpError)) {
          throw error;
        }

        this.failedSessions += 1;
        if (this.failedSessions >= MAX_FAILED_SESSIONS) {
          this.fail('error', `the command URL kept failing: ${error.message}`);
        }

        return true;
      }

      this.failedSessions = 0;
      this.pending = undefined;
      this.apply(next.effect);
      // Apple: once it starts erasing the device sends nothing more for this enrollment, so
      // whatever came with the answer to the erase acknowledgement is dropped.
      if (this.erasePlan) {
        return true;
      }
      if (reply.length === 0) {
        return worked;
      }

      worked = true;
      this.lastWorkAt = Date.now();

      const answer = this.answer(reply);

      if (answer === undefined) {
        return true;
      }

      next = answer;
    }

    this.options.log.warn('session cut short', {
      udid: this.udid,
      commands: MAX_COMMANDS_PER_SESSION,
    });

    return true;
  }

  private answer(reply: Uint8Array): PendingResult | undefined {
    let envelope: CommandEnvelope;

    try {
      envelope = parseCommand(reply);
    } catch (error) {
      return this.formatError(reply, error);
    }

    const view = this.view();
    const answer = this.responder.answer(envelope, view);
    const now = Date.now();

    this.options.log.debug('command answered', {
      udid: this.udid,
      commandUuid: envelope.commandUuid,
      requestType: envelope.requestType,
      status: answer.status,
    });
    if (view.snapshotting && answer.status === 'NotNow') {
      this.stats.snapshotNotNow += 1;
    }
    if (this.clock && envelope.requestType === 'EraseDevice') {
      this.clock.eraseReceivedAt = now;
      this.clock.eraseAcknowledgedAt = now;
    }
    // The device's clock records when it answered; the service records when it heard.
    if (this.clock && answer.effect.kind === 'configured' && this.awaitingConfiguration) {
      this.clock.configuredAt = now;
    }

    return {
      message: {
        UDID: this.udid,
        CommandUUID: envelope.commandUuid,
        Status: answer.status,
        ...answer.result,
      },
      effect: answer.effect,
    };
  }

  /** A command that cannot be read: CommandFormatError when its CommandUUID can be found. */
  private formatError(reply: Uint8Array, error: unknown): PendingResult | undefined {
    let commandUuid: unknown;

    try {
      const decoded = decodePlist(reply);

      commandUuid = isPlistDict(decoded) ? decoded['CommandUUID'] : undefined;
    } catch {
      commandUuid = undefined;
    }

    this.options.log.warn('unreadable command', {
      udid: this.udid,
      commandUuid,
      reason: messageOf(error),
    });
    if (typeof commandUuid !== 'string' || commandUuid === '') {
      return undefined;
    }

    return {
      message: {
        UDID: this.udid,
        CommandUUID: commandUuid,
        Status: 'CommandFormatError',
        ErrorChain: [
          errorChainItem(
            12001,
            'MCMDMErrorDomain',
            `The command could not be read: ${messageOf(error)}`,
          ),
        ],
      },
      effect: { kind: 'none' },
    };
  }

  private apply(effect: CommandEffect): void {
    const now = Date.now();

    switch (effect.kind) {
      case 'none':
        return;
      case 'configured':
        this.configured(now);

        return;
      case 'profile-installed':
        this.profiles = [
          ...this.profiles.filter((profile) => profile.identifier !== effect.profile.identifier),
          effect.profile,
        ];

        return;
      case 'profile-removed':
        this.profiles = this.profiles.filter((profile) => profile.identifier !== effect.identifier);

        return;
      case 'app-installing':
        this.installed(effect.identifier, effect.install, now);

        return;
      case 'settings':
        this.temporarySessionTimeout =
          effect.temporarySessionTimeout === 0 ? undefined : effect.temporarySessionTimeout;

        return;
      case 'erase':
        this.erasePlan = effect.plan;
        this.state = 'erasing';

        return;
    }
  }

  private installed(
    identifier: string,
    install: Extract<CommandEffect, { kind: 'app-installing' }>['install'],
    now: number,
  ): void {
    switch (install) {
      case 'download':
        this.apps.set(identifier, { state: 'Installing', since: now });
        this.stats.downloadedApps += 1;

        return;
      case 'after-configured':
        this.apps.set(identifier, { state: 'Queued', since: now });

        return;
      case 'preserved':
        if (this.preservation && !this.preservation.reinstalled.has(identifier)) {
          this.preservation.reinstalled.add(identifier);
          this.stats.preservedApps += 1;
        }

        return;
      case 'present':
        return;
    }
  }

  /** DeviceConfigured reached the service. */
  private configured(now: number): void {
    if (!this.awaitingConfiguration) {
      return;
    }

    this.awaitingConfiguration = false;
    this.options.log.info('device left Setup Assistant', { udid: this.udid });
    if (!this.preservation) {
      this.enteredService(now);

      return;
    }

    // Section 8.2 step 9: the new apps download now, while every command gets NotNow.
    for (const app of this.apps.values()) {
      if (app.state === 'Queued') {
        app.state = 'Installing';
        app.since = now;
        this.stats.downloadedApps += 1;
      }
    }
    this.state = 'snapshotting';
    this.snapshotUntil = now + jitter(this.timing.snapshotMs * 0.8, this.timing.snapshotMs * 1.2);
  }

  /** Steps 10 to 12: remove kept apps nobody reinstalled, take the snapshot, resume. */
  private finishSnapshot(): void {
    const preservation = this.preservation;
    const now = Date.now();

    for (const identifier of preservation?.recorded ?? []) {
      if (!preservation?.reinstalled.has(identifier) && this.apps.delete(identifier)) {
        this.stats.removedApps += 1;
      }
    }
    for (const app of this.apps.values()) {
      app.state = 'Managed';
    }

    this.snapshot = new Set(this.apps.keys());
    if (this.clock) {
      this.clock.resumedAt = now;
    }
    this.options.log.info('snapshot taken', { udid: this.udid, apps: this.snapshot.size });
    this.enteredService(now);
  }

  private enteredService(now: number): void {
    this.preservation = undefined;
    this.state = 'in-service';
    this.inServiceSince = now;
    this.activationLock.inService();
  }

  private view(): DeviceView {
    const now = Date.now();
    const view: DeviceView = {
      hardware: this.hardware,
      awaitingConfiguration: this.awaitingConfiguration,
      profiles: this.profiles,
      apps: [...this.apps].map(([identifier, app]) => ({
        identifier,
        state:
          app.state === 'Installing' && now - app.since >= this.timing.appInstallMs
            ? 'Managed'
            : app.state,
      })),
      appPreservationMode: this.appPreservationMode,
      snapshotting: this.state === 'snapshotting',
      activationLock: {
        locked: this.activationLock.locked,
        bypassCode: this.activationLock.bypassCode,
      },
    };

    if (this.preservation) {
      view.preservedApps = this.preservation.recorded;
    }

    return view;
  }

  /** Milliseconds until the armed trigger fires: 0 now, Infinity when nothing will fire. */
  private untilTrigger(now = Date.now()): number {
    const armed = this.armed;

    if (!armed || this.state !== 'in-service') {
      return Infinity;
    }

    const delay = triggerDelayMs({
      ...armed,
      now,
      graceMs: this.timing.idleTimeoutGraceMs,
      ...(this.inServiceSince === undefined ? {} : { inServiceSince: this.inServiceSince }),
      ...(this.temporarySessionTimeout === undefined
        ? {}
        : { idleTimeoutSeconds: this.temporarySessionTimeout }),
    });

    if (delay !== 'no-timeout') {
      return delay;
    }

    this.armed = undefined;
    this.cycleProblem =
      'no idle timeout set: the device never got SharedDeviceConfiguration.TemporarySessionTimeout, so it never asks for Return to Service';
    this.options.log.warn('idle trigger without a timeout', { udid: this.udid });

    return Infinity;
  }

  /** The ReturnToService check-in (user or idle trigger) and what the device does with the answer. */
  private async requestReturnToService(client: MdmClient, signal: AbortSignal): Promise<void> {
    const trigger = this.armed?.trigger ?? 'user';
    const sentAt = Date.now();

    this.armed = undefined;
    this.clock = { startedAt: sentAt };
    this.returnToServiceRequest = { trigger, sentAt };
    this.options.log.info('device asks for return to service', { udid: this.udid, trigger });

    let reply: Uint8Array;

    try {
      reply = await client.checkIn({ MessageType: 'ReturnToService', UDID: this.udid }, signal);
    } catch (error) {
      if (!(error instanceof DeviceHttpError)) {
        throw error;
      }

      this.cycleProblem = `the ReturnToService check-in failed: ${error.message}`;

      return;
    }

    const answer = readReturnToServiceAnswer(reply);

    if (typeof answer === 'string') {
      this.cycleProblem = answer;

      return;
    }

    this.returnToServiceRequest.enabled = answer.enabled;
    if (!answer.enabled) {
      this.cycleProblem =
        'the service answered the ReturnToService check-in with Enabled false (Return to Service refused)';
      this.options.log.warn('return to service refused', { udid: this.udid, trigger });

      return;
    }

    const plan = planReturnToService(answer.returnToService, answer.topLevel, this.hardware);
    const now = Date.now();

    this.clock.eraseReceivedAt = now;
    this.clock.eraseAcknowledgedAt = now;
    if (plan) {
      this.erasePlan = plan;
      this.state = 'erasing';
    }
  }

  /** With a matching bootstrap token the apps stay (RTS with app preservation); else a full erase. */
  private keepsApps(plan: ErasePlan): boolean {
    if (!plan.returnToService || !plan.bootstrapToken) {
      return false;
    }
    if (!this.bootstrapToken || !sameBytes(plan.bootstrapToken, this.bootstrapToken)) {
      this.options.log.warn('bootstrap token does not match: full erase', { udid: this.udid });

      return false;
    }

    return supportsAppPreservation(this.hardware);
  }

  private async eraseAndReturn(plan: ErasePlan, signal: AbortSignal): Promise<void> {
    const keepsApps = this.keepsApps(plan);
    const lockedAtErase = this.activationLock.locked;

    this.options.log.info('device erasing', {
      udid: this.udid,
      returnToService: plan.returnToService,
      keepsApps,
    });
    // Everything of the old enrollment goes: identity, profiles, results still owed, settings.
    this.state = 'erasing';
    this.client = undefined;
    this.pending = undefined;
    this.profiles = [];
    this.awaitingConfiguration = true;
    this.temporarySessionTimeout = undefined;
    this.inServiceSince = undefined;
    this.activationLock.erased();
    if (keepsApps) {
      // Section 8.2 steps 2 and 3: back to the last snapshot, then note the managed apps.
      const kept = this.snapshot ?? new Set(this.apps.keys());

      this.apps = new Map(
        [...kept].map((identifier) => [identifier, { state: 'Managed', since: 0 }]),
      );
      this.preservation = { recorded: new Set(kept), reinstalled: new Set() };
      this.appPreservationMode = true;
      this.stats.preservingErases += 1;
    } else {
      this.apps = new Map();
      this.snapshot = undefined;
      this.preservation = undefined;
      this.appPreservationMode = false;
      this.stats.fullErases += 1;
    }

    await sleep(jitter(this.timing.eraseDelayMs * 0.8, this.timing.eraseDelayMs * 1.2), signal);
    if (plan.strandedBecause !== undefined) {
      this.fail('stranded', plan.strandedBecause);

      return;
    }

    await sleep(jitter(this.timing.networkJoinMs * 0.5, this.timing.networkJoinMs * 1.5), signal);
    // Activation needs the network; a lock still on stops the device there for its owner.
    if (lockedAtErase) {
      this.fail(
        'stranded',
        'Activation Lock still on after erase: the device waits in Setup Assistant for the owner',
      );

      return;
    }

    try {
      await this.enrollWith(plan.mdmProfileData, signal);
    } catch (error) {
      if (isAbort(error, signal)) {
        throw error;
      }

      this.fail('stranded', `re-enrollment after the erase failed: ${messageOf(error)}`);

      return;
    }
    if (this.clock) {
      this.clock.reenrolledAt = Date.now();
    }
  }

  private nextPollDelay(worked: boolean): number {
    const busy =
      worked ||
      this.awaitingConfiguration ||
      this.pending !== undefined ||
      Date.now() - this.lastWorkAt < this.timing.busyWindowMs;

    if (busy) {
      return jitter(this.timing.busyPollMs[0], this.timing.busyPollMs[1]);
    }

    return jitter(this.timing.idlePollMs * 0.75, this.timing.idlePollMs * 1.25);
  }
}

export interface TriggerTiming {
  trigger: DeviceTrigger;
  armedAt: number;
  /** user: how long after being in service the person starts it; idle: slack after the timeout. */
  delayMs: number;
  /** When the device last went into service. */
  inServiceSince?: number;
  /** The TemporarySessionTimeout the device holds, in seconds (idle trigger). */
  idleTimeoutSeconds?: number;
  /** How long an idle trigger waits for a timeout to arrive. */
  graceMs: number;
  now: number;
}

/**
 * Milliseconds until an armed device asks for Return to Service (0: now). A person does it a
 * moment after the device is in service (or after arming, when that is later); the idle
 * trigger fires once the timeout has passed since the device went into service. `no-timeout`:
 * armed for idle, but no timeout arrived within the grace.
 */
export function triggerDelayMs(timing: TriggerTiming): number | 'no-timeout' {
  const since = timing.inServiceSince ?? timing.armedAt;

  if (timing.trigger === 'user') {
    return Math.max(0, Math.max(since, timing.armedAt) + timing.delayMs - timing.now);
  }
  if (timing.idleTimeoutSeconds === undefined) {
    const waited = timing.now - timing.armedAt;

    return waited >= timing.graceMs ? 'no-timeout' : timing.graceMs - waited;
  }

  return Math.max(0, since + timing.idleTimeoutSeconds * 1000 + timing.delayMs - timing.now);
}

/** Target OS of a 403 software-update-required answer; throws when the 403 is something else. */
export function readSoftwareUpdateRequired(answer: DeviceAnswer): {
  osVersion: string;
  buildVersion?: string;
} {
  const text = Buffer.from(answer.body).toString('utf8');
  let document: unknown;

  try {
    document = answer.contentType.includes('xml')
      ? decodePlist(answer.body)
      : (JSON.parse(text) as unknown);
  } catch {
    document = undefined;
  }

  const record = (value: unknown): Record<string, unknown> | undefined =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
      ? (value as Record<string, unknown>)
      : undefined;
  const body = record(document);
  const details = record(body?.['details']);
  const osVersion = details?.['OSVersion'];
  const buildVersion = details?.['BuildVersion'];

  if (
    body?.['code'] !== SOFTWARE_UPDATE_REQUIRED ||
    typeof osVersion !== 'string' ||
    osVersion === ''
  ) {
    throw new Error(
      `the enrollment profile was refused with 403 that is not ${SOFTWARE_UPDATE_REQUIRED} with details.OSVersion (Content-Type ${answer.contentType || 'none'}): ${text.slice(0, 300) || '(empty body)'}`,
    );
  }

  return typeof buildVersion === 'string' && buildVersion !== ''
    ? { osVersion, buildVersion }
    : { osVersion };
}

/** The answer to the ReturnToService check-in, or why the device cannot use it. */
export function readReturnToServiceAnswer(
  reply: Uint8Array,
): { enabled: boolean; returnToService: PlistValue; topLevel: PlistDict } | string {
  let decoded: PlistValue;

  try {
    decoded = decodePlist(reply);
  } catch (error) {
    return `the answer to the ReturnToService check-in is not a plist (${messageOf(error)})`;
  }

  const rts = isPlistDict(decoded) ? decoded['ReturnToService'] : undefined;

  if (!isPlistDict(decoded) || !isPlistDict(rts) || typeof rts['Enabled'] !== 'boolean') {
    return 'the answer to the ReturnToService check-in has no ReturnToService dictionary with Enabled';
  }

  return { enabled: rts['Enabled'], returnToService: rts, topLevel: decoded };
}
