import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { pino } from 'pino';
import { DataSource } from 'typeorm';

import {
  CommandsSuperseded,
  createEnvelope,
  DeviceEnrolled,
  EnqueueCommands,
  DataOf,
  Envelope,
  FetchBootstrapToken,
  PrioritizeCommand,
  RenderProfile,
  RenderReturnToServiceProfiles,
  ResolveIdentity,
  StoreActivationLockBypassCode,
} from '@turnaround/contracts';
import {
  CertificateAuthority,
  createCertificateAuthority,
  RequestSigner,
} from '@turnaround/identity';
import { BusServer, InProcessTransport } from '@turnaround/messaging';
import { loadConfig, rootLogger, setLogLevel, TurnaroundConfig } from '@turnaround/platform';
import { decodePlist, encodePlistXml, isPlistDict, PlistDict } from '@turnaround/protocol';

import { CommandsModule } from '../commands.module.js';
import { CommandQueueRepository } from '../data-access/command-queue.repository.js';
import { LastSeenRepository } from '../data-access/last-seen.repository.js';

/** A device as the tests drive it: an identity issued by the test CA and the UDID it claims. */
export interface TestDevice {
  udid: string;
  fingerprint: string;
  signer: RequestSigner;
  /** What a TLS-terminating proxy would forward for it in {@link CLIENT_CERT_HEADER}. */
  certificatePem: string;
}

/** The service runs as if behind a proxy that forwards client certificates in this header. */
export const CLIENT_CERT_HEADER = 'X-Client-Cert';

export interface DeviceAnswer {
  status: number;
  body: Buffer;
  headers: Headers;
}

export interface TestCommand {
  commandUuid?: string;
  requestType: string;
  keys?: PlistDict;
  attachBootstrapToken?: { reason: string };
  attachReturnToServiceProfiles?: { cycleId: string };
  attachProfile?: EnqueuedTestCommand['attachProfile'];
  whileAwaitingConfiguration?: boolean;
}

/** Profiles the fake provisioning service renders for an RTS cycle. */
export interface TestReturnToServiceProfiles {
  wifiProfileData?: Buffer;
  mdmProfileData?: Buffer;
}

/** `absent`: no provisioning service answers at all; `over`: every cycle no longer erases. */
export type ProvisioningMode = 'answer' | 'absent' | 'over';

export type CheckinMode = 'answer' | 'slow';

/** How the fake escrow service behaves: answers, answers too late, or fails every request. */
/** `fail`: escrow cannot answer now (its database is down); `broken`: the stored token cannot be opened. */
export type EscrowMode = 'answer' | 'slow' | 'fail' | 'broken';

/**
 * The commands service booted the way the apps boot it: Nest over HTTP on 127.0.0.1 with no body
 * parser, SQLite in a temp dir, an in-process bus with a BusServer, and a fake check-in service
 * that answers ResolveIdentity from what the test enrolled.
 */
export class CommandsTestApp {
  readonly transport = new InProcessTransport({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  /** Every event the commands service published, oldest first. */
  readonly events: Envelope<Record<string, unknown>>[] = [];
  /** What the fake check-in service knows: fingerprint → binding. */
  readonly checkin = new Map<
    string,
    { udid: string; enrollmentId?: string; userEnrollment?: boolean }
  >();
  checkinMode: CheckinMode = 'answer';
  resolveRequests = 0;
  /** What the fake escrow service holds: udid → bootstrap token. */
  readonly escrowedTokens = new Map<string, Buffer>();
  /** Bypass codes the fake escrow service was handed: udid → code. */
  readonly escrowedBypassCodes = new Map<string, string>();
  escrowMode: EscrowMode = 'answer';
  /** What the fake escrow answers a StoreActivationLockBypassCode with, when it answers. */
  bypassCodeStored = true;
  /** Every request the fake escrow service received, oldest first. */
  readonly escrowRequests: Envelope<Record<string, unknown>>[] = [];
  /** Runs inside the fake escrow service before it answers, to change the world meanwhile. */
  escrowHook?: (envelope: Envelope<Record<string, unknown>>) => Promise<void>;
  /** What the fake provisioning service renders: cycleId → the erase's profiles. */
  readonly cycleProfiles = new Map<string, TestReturnToServiceProfiles>();
  /**
   * The profiles the fake provisioning service renders for InstallProfile: cycleId → the bytes
   * its configuration holds now, found by the digest a reference names (here a plain SHA-256: the fake is its own provisioning).
   */
  readonly plannedProfiles = new Map<string, Buffer[]>();
  provisioningMode: ProvisioningMode = 'answer';
  /** Every request the fake provisioning service received, oldest first. */
  readonly provisioningRequests: Envelope<Record<string, unknown>>[] = [];

  private app?: INestApplication;
  private dir = '';
  private url = '';
  private authority?: CertificateAuthority;

  config!: TurnaroundConfig;

  /** `logLevel`: for suites that read the service's log lines (see {@link captureLogs}). */
  async start(options: { logLevel?: string } = {}): Promise<void> {
    setLogLevel(options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent');
    this.dir = mkdtempSync(join(tmpdir(), 'turnaround-commands-'));
    const material = createCertificateAuthority({ commonName: 'Turnaround Test CA' });
    writeFileSync(join(this.dir, 'ca.crt'), material.certificatePem);
    this.authority = new CertificateAuthority(material);
    this.config = loadConfig({
      TURNAROUND_DATA_DIR: this.dir,
      TURNAROUND_REQUEST_TIMEOUT_MS: '250',
      TURNAROUND_MAX_BODY_BYTES: String(256 * 1024),
      TURNAROUND_CLIENT_CERT_HEADER: CLIENT_CERT_HEADER,
    });

    await this.transport.subscribe('observer', ['commands.#'], async (envelope) => {
      this.events.push(envelope as Envelope<Record<string, unknown>>);
    });
    await this.transport.serve('checkin', [ResolveIdentity.routingKey], async (envelope) => {
      this.resolveRequests += 1;
      if (this.checkinMode === 'slow') {
        await sleep(this.config.requestTimeoutMs * 3);
      }
      const { certificateFingerprint } = envelope.data as { certificateFingerprint: string };
      const known = this.checkin.get(certificateFingerprint);

      return known ? { found: true, userEnrollment: false, ...known } : { found: false };
    });
    await this.transport.serve(
      'escrow',
      [FetchBootstrapToken.routingKey, StoreActivationLockBypassCode.routingKey],
      async (envelope) => this.answerEscrow(envelope as Envelope<Record<string, unknown>>),
    );

    await this.transport.serve(
      'provisioning',
      [RenderReturnToServiceProfiles.routingKey, RenderProfile.routingKey],
      async (envelope) => this.answerProvisioning(envelope as Envelope<Record<string, unknown>>),
    );

    @Module({ imports: [CommandsModule.register(this.config, this.transport)] })
    class TestRootModule {}

    const app = await NestFactory.create(TestRootModule, { bodyParser: false, logger: false });
    app.connectMicroservice({
      strategy: BusServer.forService(app, 'commands', this.transport),
    });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.transport.idle();
    await this.app?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  get repository(): CommandQueueRepository {
    return this.app!.get(CommandQueueRepository);
  }

  get lastSeen(): LastSeenRepository {
    return this.app!.get(LastSeenRepository);
  }

  /** Every row of every table of the commands database, by table. */
  async tableRows(): Promise<Record<string, Record<string, unknown>[]>> {
    const dataSource = this.app!.get<DataSource>(getDataSourceToken('commands'));
    const tables: { name: string }[] = await dataSource.query(
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    );
    const rows: Record<string, Record<string, unknown>[]> = {};
    for (const { name } of tables) {
      rows[name] = await dataSource.query(`SELECT * FROM "${name.replace(/"/g, '""')}"`);
    }

    return rows;
  }

  /**
   * Everything the service kept that a secret could hide in: every row value (and the base64
   * decoding of each, since command bodies are stored as base64), its database files, every event
   * it published and the log lines given.
   */
  async everythingKept(logLines: readonly string[]): Promise<Record<string, Buffer>> {
    const values: Buffer[] = [];
    for (const rows of Object.values(await this.tableRows())) {
      for (const row of rows) {
        for (const value of Object.values(row)) {
          const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
          values.push(bytes, Buffer.from(bytes.toString('utf8'), 'base64'));
        }
      }
    }

    return {
      rows: Buffer.concat(values),
      files: this.databaseFiles(),
      events: Buffer.from(JSON.stringify(this.events)),
      logs: Buffer.from(logLines.join('')),
    };
  }

  /** The bytes of the commands database's files as they are on disk now (WAL included). */
  databaseFiles(): Buffer {
    return Buffer.concat(
      readdirSync(this.dir)
        .filter((name) => name.startsWith('commands.sqlite'))
        .map((name) => readFileSync(join(this.dir, name))),
    );
  }

  /** A new identity for `udid`, issued by the service's CA (not yet known to anyone). */
  async device(udid: string, authority = this.authority!): Promise<TestDevice> {
    const identity = await authority.issueDeviceIdentity({ commonName: udid });

    return {
      udid,
      fingerprint: identity.fingerprint,
      signer: new RequestSigner(identity),
      certificatePem: identity.certificatePem,
    };
  }

  /** An identity from a CA the service does not trust. */
  async foreignDevice(udid: string): Promise<TestDevice> {
    const foreign = new CertificateAuthority(
      createCertificateAuthority({ commonName: 'Foreign CA' }),
    );

    return this.device(udid, foreign);
  }

  /** What the check-in service publishes after a TokenUpdate; waits until it was handled. */
  async enroll(
    device: TestDevice,
    enrollmentId: string,
    options: { fresh?: boolean; previousEnrollmentId?: string; udid?: string } = {},
  ): Promise<Envelope> {
    const udid = options.udid ?? device.udid;
    this.checkin.set(device.fingerprint, { udid, enrollmentId });
    const envelope = createEnvelope(
      DeviceEnrolled,
      'checkin',
      {
        udid,
        enrollmentId,
        fresh: options.fresh ?? true,
        awaitingConfiguration: options.fresh ?? true,
        userEnrollment: false,
        certificateFingerprint: device.fingerprint,
        platform: 'ios',
        ...(options.previousEnrollmentId
          ? { previousEnrollmentId: options.previousEnrollmentId }
          : {}),
      },
      { subject: udid },
    );
    await this.deliver(envelope);

    return envelope;
  }

  /** Publishes an envelope as another service would and waits until it was handled. */
  async deliver(envelope: Envelope): Promise<void> {
    await this.transport.publish(envelope);
    await this.transport.idle();
  }

  /**
   * Queues commands as the provisioning service does; returns their CommandUUIDs. An InstallProfile
   * given neither a Payload nor attachProfile gets a placeholder Payload: the service refuses one
   * with neither, and most tests only need some command.
   */
  async enqueue(
    udid: string,
    enrollmentId: string,
    commands: readonly TestCommand[],
    placement: 'back' | 'front' = 'back',
    correlationId?: string,
  ): Promise<string[]> {
    const entries = commands.map((command) => ({
      commandUuid: command.commandUuid ?? randomUUID().toUpperCase(),
      requestType: command.requestType,
      command: encodePlistXml({
        RequestType: command.requestType,
        ...(command.requestType === 'InstallProfile' && !command.attachProfile
          ? { Payload: PLACEHOLDER_PROFILE }
          : {}),
        ...command.keys,
      }).toString('base64'),
      ...(command.attachBootstrapToken
        ? { attachBootstrapToken: command.attachBootstrapToken }
        : {}),
      ...(command.attachReturnToServiceProfiles
        ? { attachReturnToServiceProfiles: command.attachReturnToServiceProfiles }
        : {}),
      ...(command.attachProfile ? { attachProfile: command.attachProfile } : {}),
      ...(command.whileAwaitingConfiguration !== undefined
        ? { whileAwaitingConfiguration: command.whileAwaitingConfiguration }
        : {}),
    }));
    await this.deliver(enqueueEnvelope(udid, enrollmentId, entries, placement, correlationId));

    return entries.map((entry) => entry.commandUuid);
  }

  async prioritize(udid: string, enrollmentId: string, commandUuid: string): Promise<void> {
    await this.deliver(
      createEnvelope(
        PrioritizeCommand,
        'provisioning',
        { udid, enrollmentId, commandUuid },
        { subject: udid },
      ),
    );
  }

  /** Sends a report dictionary, signed by the device unless told otherwise. */
  async report(
    device: TestDevice,
    status: string,
    commandUuid?: string,
    extra: PlistDict = {},
  ): Promise<DeviceAnswer> {
    const dict: PlistDict = { UDID: device.udid, Status: status, ...extra };
    if (commandUuid !== undefined) {
      dict.CommandUUID = commandUuid;
    }

    return this.send(encodePlistXml(dict), device);
  }

  /** PUTs raw bytes to the command URL; `signedBy` null sends no Mdm-Signature. */
  async send(
    body: Buffer,
    signedBy: TestDevice | null,
    options: { method?: string; signature?: string; headers?: Record<string, string> } = {},
  ): Promise<DeviceAnswer> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-apple-aspen-mdm',
      ...options.headers,
    };
    const signature = options.signature ?? signedBy?.signer.sign(body);
    if (signature) {
      headers['Mdm-Signature'] = signature;
    }
    const response = await fetch(`${this.url}/mdm/server`, {
      method: options.method ?? 'PUT',
      headers,
      body: new Uint8Array(body),
    });
    const answer = {
      status: response.status,
      body: Buffer.from(await response.arrayBuffer()),
      headers: response.headers,
    };
    await this.transport.idle();

    return answer;
  }

  /** The events of one type published since `from` (an index into `events`). */
  eventsOf(contract: { routingKey: string }, from = 0): Envelope<Record<string, unknown>>[] {
    return this.events.slice(from).filter((event) => event.type === contract.routingKey);
  }

  superseded(from = 0): Envelope<Record<string, unknown>>[] {
    return this.eventsOf(CommandsSuperseded, from);
  }

  private async answerProvisioning(envelope: Envelope<Record<string, unknown>>): Promise<unknown> {
    this.provisioningRequests.push(envelope);
    if (this.provisioningMode === 'absent') {
      // As when no provisioning process runs: the request is never answered.
      await sleep(this.config.requestTimeoutMs * 3);
    }
    if (envelope.type === RenderProfile.routingKey) {
      return this.renderProfile(envelope.data as DataOf<typeof RenderProfile>);
    }
    const profiles = this.cycleProfiles.get(String(envelope.data.cycleId));
    if (this.provisioningMode === 'over' || !profiles) {
      throw Object.assign(new Error('the cycle does not wait for its erase'), {
        code: 'CYCLE.NOT_ERASING',
      });
    }

    return {
      ...(profiles.wifiProfileData
        ? { wifiProfileData: profiles.wifiProfileData.toString('base64') }
        : {}),
      ...(profiles.mdmProfileData
        ? { mdmProfileData: profiles.mdmProfileData.toString('base64') }
        : {}),
    };
  }

  private renderProfile(request: DataOf<typeof RenderProfile>): unknown {
    const planned = this.plannedProfiles.get(request.cycleId);
    if (!planned) {
      throw Object.assign(new Error('no such cycle of the device'), { code: 'CYCLE.NOT_FOUND' });
    }
    const payload = planned.find(
      (bytes) => createHash('sha256').update(bytes).digest('hex') === request.profile.digest,
    );
    if (!payload) {
      throw Object.assign(new Error('the profile changed since it was queued'), {
        code: 'CYCLE.PROFILE_CHANGED',
      });
    }

    return { payload: payload.toString('base64') };
  }

  private async answerEscrow(envelope: Envelope<Record<string, unknown>>): Promise<unknown> {
    this.escrowRequests.push(envelope);
    await this.escrowHook?.(envelope);
    if (this.escrowMode === 'slow') {
      await sleep(this.config.requestTimeoutMs * 3);
    }
    if (this.escrowMode === 'fail') {
      throw Object.assign(new Error('escrow database is unreachable'), { code: 'INTERNAL' });
    }
    if (this.escrowMode === 'broken' && envelope.type === FetchBootstrapToken.routingKey) {
      throw Object.assign(new Error('the sealed token of this device does not open'), {
        code: 'ESCROW.SEAL_BROKEN',
      });
    }
    const udid = String(envelope.data.udid);
    if (envelope.type === FetchBootstrapToken.routingKey) {
      const token = this.escrowedTokens.get(udid);

      return token ? { token: token.toString('base64') } : {};
    }
    if (this.bypassCodeStored) {
      this.escrowedBypassCodes.set(udid, String(envelope.data.code));
    }

    return { stored: this.bypassCodeStored };
  }
}

export type EnqueuedTestCommand = DataOf<typeof EnqueueCommands>['commands'][number];

const PLACEHOLDER_PROFILE = Buffer.from('<plist version="1.0"><dict/></plist>');

export function enqueueEnvelope(
  udid: string,
  enrollmentId: string,
  commands: EnqueuedTestCommand[],
  placement: 'back' | 'front' = 'back',
  correlationId?: string,
): Envelope {
  return createEnvelope(
    EnqueueCommands,
    'provisioning',
    { udid, enrollmentId, placement, commands },
    { subject: udid, ...(correlationId ? { correlationId } : {}) },
  );
}

/**
 * Sends every log line of this test file's loggers (all children of the root) to memory until
 * `restore` is called. Only lines at or above the level the harness was started with appear.
 */
export function captureLogs(): { lines: string[]; restore: () => void } {
  const root = rootLogger() as unknown as Record<symbol, unknown>;
  const original = root[pino.symbols.streamSym];
  const lines: string[] = [];
  root[pino.symbols.streamSym] = { write: (line: string) => void lines.push(line) };

  return { lines, restore: () => void (root[pino.symbols.streamSym] = original) };
}

/** Every way the bytes could be written down, and which of them occur in `haystack`. */
export function leaksOf(haystack: Buffer | string, secret: Buffer): string[] {
  const text = Buffer.isBuffer(haystack) ? haystack : Buffer.from(haystack, 'utf8');
  const forms: Record<string, Buffer> = {
    raw: secret,
    base64: Buffer.from(secret.toString('base64')),
    base64url: Buffer.from(secret.toString('base64url')),
    hex: Buffer.from(secret.toString('hex')),
    HEX: Buffer.from(secret.toString('hex').toUpperCase()),
  };

  return Object.entries(forms)
    .filter(([, form]) => text.includes(form))
    .map(([name]) => name);
}

/** The CommandUUID and RequestType a device got, or null for a zero-byte answer. */
export function commandIn(
  answer: DeviceAnswer,
): { commandUuid: string; requestType: string } | null {
  if (answer.body.length === 0) {
    return null;
  }
  const dict = decodePlist(answer.body);
  if (!isPlistDict(dict) || !isPlistDict(dict.Command)) {
    throw new Error(`not a command: ${answer.body.toString('utf8').slice(0, 200)}`);
  }

  return { commandUuid: String(dict.CommandUUID), requestType: String(dict.Command.RequestType) };
}
