import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { RequestSigner, type IdentityPem } from '@turnaround/identity';
import {
  encodePlistXml,
  parseCommand,
  readEnrollmentProfile,
  type PlistDict,
} from '@turnaround/protocol';
import {
  CommandResponder,
  enrollScepIdentity,
  MachineInfoSigner,
  newBypassCode,
  signedMachineInfo,
  supportsAppPreservation,
  type DeviceKeySource,
  type DeviceView,
  type Hardware,
} from '@turnaround/simulator';

/** Everything a load generator needs to speak for an enrolled device. */
export interface EnrolledDevice {
  hardware: Hardware;
  identity: IdentityPem;
  checkInUrl: string;
  serverUrl: string;
  topic: string;
  /** The push token and magic of its TokenUpdate, base64 and text, sent again unchanged. */
  pushToken: string;
  pushMagic: string;
}

const BOOTSTRAP_TOKEN_CAPABILITY = 'com.apple.mdm.bootstraptoken';
const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';
const COMMAND_CONTENT_TYPE = 'application/x-apple-aspen-mdm';
// A device resends a request until it gets a 2xx; the bench gives up after this many tries.
const ATTEMPTS = 5;
const REQUEST_TIMEOUT_MS = 30_000;
// How long a device waits for the release (DeviceConfigured) the service queues after enrolling.
const RELEASE_TIMEOUT_MS = 120_000;
// Pause between command sessions while the queued commands are still on their way (events).
const SESSION_PAUSE_MS = 50;

/**
 * A simulated ADE device that enrolls with real signed requests and is released into service,
 * as the simulator's devices do, but keeps its identity so that a load generator can sign for
 * it afterwards. It does not poll once in service: the bench decides what it sends.
 */
export class BenchDevice {
  /** HTTP requests sent, retries included. */
  requests = 0;
  private readonly responder: CommandResponder;
  private awaitingConfiguration = true;

  constructor(
    readonly hardware: Hardware,
    private readonly enrollUrl: string,
    seed: string,
    private readonly keys: DeviceKeySource,
  ) {
    this.responder = new CommandResponder({ notNowShare: 0, seed });
  }

  /**
   * Fetches the profile with a signed MachineInfo, enrolls its identity with SCEP (with a key
   * from `keys`), sends Authenticate and TokenUpdate (awaiting
   * configuration, as in Setup Assistant), escrows a bootstrap token where the platform has one,
   * then answers every command the service queues until it is released with DeviceConfigured
   * and its queue is empty.
   */
  async enroll(signal: AbortSignal): Promise<EnrolledDevice> {
    const h = this.hardware;
    const machineInfoSigner = await MachineInfoSigner.create(`${h.productName} ${h.udid}`);
    const profile = await this.send(
      'enrollment profile',
      this.enrollUrl,
      'POST',
      { 'Content-Type': 'application/pkcs7-signature' },
      signedMachineInfo(h, machineInfoSigner),
      signal,
    );
    const settings = readEnrollmentProfile(profile);
    if (!('scep' in settings.identity)) {
      throw new Error(`${h.udid}: the enrollment profile has no SCEP payload`);
    }
    const identity = await enrollScepIdentity(settings.identity.scep, this.keys, (request) =>
      this.send(
        request.what,
        request.url,
        request.method,
        request.headers ?? {},
        request.body,
        signal,
      ),
    );
    const signer = new RequestSigner(identity);
    const client = {
      checkIn: (message: PlistDict, signal: AbortSignal) =>
        this.signed(signer, settings.checkInUrl, CHECKIN_CONTENT_TYPE, message, signal),
      report: (message: PlistDict, signal: AbortSignal) =>
        this.signed(signer, settings.serverUrl, COMMAND_CONTENT_TYPE, message, signal),
    };
    const pushToken = randomBytes(32);
    const pushMagic = randomUUID().toUpperCase();

    await client.checkIn(
      {
        MessageType: 'Authenticate',
        UDID: h.udid,
        Topic: settings.topic,
        OSVersion: h.osVersion,
        BuildVersion: h.buildVersion,
        ProductName: h.productName,
        SerialNumber: h.serialNumber,
      },
      signal,
    );
    await client.checkIn(
      {
        MessageType: 'TokenUpdate',
        UDID: h.udid,
        Topic: settings.topic,
        Token: pushToken,
        PushMagic: pushMagic,
        AwaitingConfiguration: true,
      },
      signal,
    );
    if (
      supportsAppPreservation(h) &&
      settings.serverCapabilities.includes(BOOTSTRAP_TOKEN_CAPABILITY)
    ) {
      await client.checkIn(
        {
          MessageType: 'SetBootstrapToken',
          UDID: h.udid,
          BootstrapToken: randomBytes(32),
          AwaitingConfiguration: true,
        },
        signal,
      );
    }
    await this.answerUntilReleased(client, settings.profile.payloadIdentifier, signal);

    return {
      hardware: h,
      identity,
      checkInUrl: settings.checkInUrl,
      serverUrl: settings.serverUrl,
      topic: settings.topic,
      pushToken: pushToken.toString('base64'),
      pushMagic,
    };
  }

  /** A plist body signed with the device's identity (`Mdm-Signature`), PUT to `url`. */
  private signed(
    signer: RequestSigner,
    url: string,
    contentType: string,
    message: PlistDict,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const body = encodePlistXml(message);
    const what = String(message['MessageType'] ?? message['Status']);

    return this.send(
      what,
      url,
      'PUT',
      { 'Content-Type': contentType, 'Mdm-Signature': signer.sign(body) },
      body,
      signal,
    );
  }

  /** The 2xx answer's body; other answers and network errors are retried with a pause. */
  private async send(
    what: string,
    url: string,
    method: 'GET' | 'PUT' | 'POST',
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    let problem = '';

    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      if (attempt > 1) {
        await sleep(250 * 2 ** (attempt - 2), undefined, { signal });
      }
      this.requests += 1;
      try {
        const response = await fetch(url, {
          method,
          headers,
          ...(body ? { body } : {}),
          signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        });
        const answer = new Uint8Array(await response.arrayBuffer());

        if (response.ok) {
          return answer;
        }
        problem = `${response.status} ${Buffer.from(answer).toString('utf8').slice(0, 200)}`;
      } catch (error) {
        if (signal.aborted) {
          throw error;
        }
        problem = (error as Error).message;
      }
    }

    throw new Error(`${this.hardware.udid} ${what}: ${problem} (after ${ATTEMPTS} tries)`);
  }

  private async answerUntilReleased(
    client: {
      report: (message: PlistDict, signal: AbortSignal) => Promise<Uint8Array>;
    },
    profileIdentifier: string,
    signal: AbortSignal,
  ): Promise<void> {
    const view: DeviceView = {
      hardware: this.hardware,
      awaitingConfiguration: true,
      profiles: [{ identifier: profileIdentifier, uuid: randomUUID().toUpperCase() }],
      apps: [],
      activationLock: { locked: false, bypassCode: newBypassCode() },
    };
    const deadline = Date.now() + RELEASE_TIMEOUT_MS;

    for (;;) {
      let message: PlistDict = { UDID: this.hardware.udid, Status: 'Idle' };

      for (;;) {
        const reply = await client.report(message, signal);

        if (reply.length === 0) {
          break;
        }

        const envelope = parseCommand(reply);
        const answer = this.responder.answer(envelope, {
          ...view,
          awaitingConfiguration: this.awaitingConfiguration,
        });

        if (answer.effect.kind === 'configured') {
          this.awaitingConfiguration = false;
        }
        message = {
          UDID: this.hardware.udid,
          CommandUUID: envelope.commandUuid,
          Status: answer.status,
          ...answer.result,
        };
      }
      // The release is queued behind the inventory queries, so once it was answered and the
      // queue is empty the device is in service with nothing left to do.
      if (!this.awaitingConfiguration) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.hardware.udid} was not released within ${RELEASE_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(SESSION_PAUSE_MS, undefined, { signal });
    }
  }
}
