import { randomBytes, randomUUID } from 'node:crypto';

import { importPkcs12, RequestSigner } from '@turnaround/identity';
import {
  decodePlist,
  isPlistDict,
  parseCommand,
  readEnrollmentProfile,
  type CommandEnvelope,
  type PlistDict,
} from '@turnaround/protocol';

import {
  CommandResponder,
  errorChainItem,
  type CommandEffect,
  type CommandResponderOptions,
  type DeviceView,
  type ErasePlan,
  type InstalledProfile,
} from './command-responder.js';
import type { Hardware } from './hardware.js';
import { sleep } from './limiter.js';
import type { SimulatorLog } from './log.js';
import { DeviceHttp, MdmClient, type RequestCounter } from './mdm-client.js';
import { jitter } from './random.js';
import { DeviceHttpError, isAbort, messageOf } from './simulator.errors.js';

export type DeviceState =
  'new' | 'enrolling' | 'awaiting-configuration' | 'in-service' | 'erasing' | 'failed' | 'stopped';

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
}

export const DEFAULT_TIMING: DeviceTiming = {
  busyPollMs: [200, 500],
  idlePollMs: 2_000,
  busyWindowMs: 3_000,
  eraseDelayMs: 1_500,
  networkJoinMs: 300,
  appInstallMs: 2_000,
};

/** The device's own clock for one RTS cycle (epoch milliseconds). */
export interface CycleClock {
  startedAt: number;
  eraseReceivedAt?: number;
  eraseAcknowledgedAt?: number;
  reenrolledAt?: number;
  configuredAt?: number;
}

export interface SimulatedDeviceOptions {
  hardware: Hardware;
  /** Where the device fetches its enrollment profile, as the ADE profile's `url` would say. */
  enrollUrl: string;
  http: DeviceHttp;
  log: SimulatorLog;
  responder: CommandResponderOptions;
  timing?: Partial<DeviceTiming>;
}

interface PendingResult {
  message: PlistDict;
  effect: CommandEffect;
}

// A server that answers a command for ever would otherwise keep one session going for ever.
const MAX_COMMANDS_PER_SESSION = 200;
// Sessions in a row whose every retry failed before the device gives up.
const MAX_FAILED_SESSIONS = 5;

/**
 * One simulated iPhone, iPad or Apple TV, supervised and enrolled through ADE:
 *
 *   new → enrolling → awaiting-configuration → in-service
 *   in-service / awaiting-configuration → (EraseDevice) erasing → enrolling → awaiting-configuration
 *   any → failed (stranded after an erase, or the service kept failing)
 */
export class SimulatedDevice {
  readonly hardware: Hardware;
  readonly counter: RequestCounter = { requests: 0 };
  state: DeviceState = 'new';
  failure?: DeviceFailure;
  clock?: CycleClock;
  enrollments = 0;

  private readonly timing: DeviceTiming;
  private readonly responder: CommandResponder;
  private client?: MdmClient;
  private topic = '';
  private awaitingConfiguration = false;
  private profiles: InstalledProfile[] = [];
  private apps = new Map<string, number>();
  private pending?: PendingResult;
  private erasePlan?: ErasePlan;
  private lastWorkAt = 0;
  private failedSessions = 0;

  constructor(private readonly options: SimulatedDeviceOptions) {
    this.hardware = options.hardware;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.responder = new CommandResponder(options.responder);
  }

  get udid(): string {
    return this.hardware.udid;
  }

  /** Starts the device's clock for a new RTS cycle. */
  beginCycle(startedAt = Date.now()): void {
    this.clock = { startedAt };
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

        const worked = await this.session(this.client, signal);

        if (!this.erasePlan && !this.hasFailed()) {
          await sleep(this.nextPollDelay(worked), signal);
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

  // A method rather than a comparison in place: the compiler would keep a narrowed state across
  // the awaits in between, which change it.
  private hasFailed(): boolean {
    return this.state === 'failed';
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

    const bytes =
      profileData ??
      (await this.options.http.send(
        { what: 'enrollment profile', udid: this.udid, method: 'GET', url: this.options.enrollUrl },
        this.counter,
        signal,
      ));
    const settings = readEnrollmentProfile(bytes);
    const signer = new RequestSigner(
      importPkcs12(settings.identity.pkcs12, settings.identity.password),
    );
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
    });
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

    const answer = this.responder.answer(envelope, this.view());
    const now = Date.now();

    this.options.log.debug('command answered', {
      udid: this.udid,
      commandUuid: envelope.commandUuid,
      requestType: envelope.requestType,
      status: answer.status,
    });
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
    switch (effect.kind) {
      case 'none':
        return;
      case 'configured':
        if (this.awaitingConfiguration) {
          this.options.log.info('device left Setup Assistant', { udid: this.udid });
        }
        this.awaitingConfiguration = false;
        this.state = 'in-service';

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
        this.apps.set(effect.identifier, Date.now());

        return;
      case 'erase':
        this.erasePlan = effect.plan;
        this.state = 'erasing';

        return;
    }
  }

  private view(): DeviceView {
    const now = Date.now();

    return {
      hardware: this.hardware,
      awaitingConfiguration: this.awaitingConfiguration,
      profiles: this.profiles,
      apps: [...this.apps].map(([identifier, since]) => ({
        identifier,
        state: now - since >= this.timing.appInstallMs ? 'Managed' : 'Installing',
      })),
    };
  }

  private async eraseAndReturn(plan: ErasePlan, signal: AbortSignal): Promise<void> {
    this.options.log.info('device erasing', {
      udid: this.udid,
      returnToService: plan.returnToService,
    });
    // Everything of the old enrollment goes: identity, profiles, apps, results still owed.
    this.state = 'erasing';
    this.client = undefined;
    this.pending = undefined;
    this.profiles = [];
    this.apps = new Map();
    this.awaitingConfiguration = true;
    await sleep(jitter(this.timing.eraseDelayMs * 0.8, this.timing.eraseDelayMs * 1.2), signal);
    if (plan.strandedBecause !== undefined) {
      this.fail('stranded', plan.strandedBecause);

      return;
    }

    await sleep(jitter(this.timing.networkJoinMs * 0.5, this.timing.networkJoinMs * 1.5), signal);
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
