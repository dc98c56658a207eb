import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import Database from 'better-sqlite3';

import {
  AwaitConfiguration,
  CheckEnrollmentPolicy,
  ClearActivationLock,
  CommandAcknowledged,
  CommandFailed,
  CommandNotNow,
  createEnvelope,
  DescribeBootstrapToken,
  DeviceEnrolled,
  EnqueueCommands,
  Envelope,
  PrepareDeviceReturnToService,
  RenderProfile,
  ReplyOf,
  ReturnToServiceAnswered,
} from '@turnaround/contracts';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, setLogLevel } from '@turnaround/platform';
import { decodePlist, encodePlistXml, PlistDict } from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { ProvisioningRepository } from './data-access/provisioning.repository.js';
import { profileDigest, profileReferenceKey } from './domain/profile-reference.js';
import { CycleService } from './feature/cycle.service.js';
import { CycleTimerService } from './feature/cycle-timer.service.js';
import { ReturnToServiceService } from './feature/return-to-service.service.js';
import { ProvisioningModule } from './provisioning.module.js';
import { cycleRow } from './testing/cycles.js';
import { serveEnrollmentProfiles } from './testing/enrollment-profiles.js';

const WIFI = readFileSync(resolve(process.cwd(), '../shared/fixtures/real/profile/wifi-return-to-service-hidden-any.mobileconfig'));

interface QueuedEntry {
  commandUuid: string;
  requestType: string;
  command: PlistDict;
  attachBootstrapToken?: { reason: string };
  attachProfile?: { cycleId: string; profile: { source: 'plan' | 'standing-wifi'; name?: string; digest: string } };
  whileAwaitingConfiguration?: boolean;
}

/** A visionOS Wi-Fi profile whose one network joins before first unlock (section 11). */
function visionWifi(extra: PlistDict = {}): Buffer {
  return encodePlistXml({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: 'test.wifi',
    PayloadUUID: 'E3C5B0F4-0D43-4C1B-9E0B-2E1D6C1A0001',
    PayloadDisplayName: 'Headset Wi-Fi',
    PayloadContent: [
      {
        PayloadType: 'com.apple.wifi.managed',
        PayloadVersion: 1,
        PayloadIdentifier: 'test.wifi.network',
        PayloadUUID: 'E3C5B0F4-0D43-4C1B-9E0B-2E1D6C1A0002',
        SSID_STR: 'Shared-Headsets',
        EncryptionType: 'WPA2',
        Password: 'correct horse battery staple',
        AutoJoin: true,
        ProxyType: 'None',
        AllowJoinBeforeFirstUnlock: true,
        ...extra,
      },
    ],
  });
}

/**
 * RTS with app preservation, as the provisioning service sees it: driven by the events and
 * requests the other services would send. Escrow's answers come from handlers served on the bus
 * (what escrow holds is set per test); the whole loop with the real escrow runs in the simulator's
 * end-to-end tests.
 */
describe('provisioning: RTS with app preservation, device triggers, Activation Lock, OS policy', () => {
  const transport = new InProcessTransport({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
  const published: Envelope<Record<string, unknown>>[] = [];
  const escrowed = new Set<string>();
  const unlockOutcome = new Map<string, 'cleared' | 'refused' | 'unavailable' | 'no-code'>();
  const unlockRequests: Record<string, unknown>[] = [];
  /** What the fake escrow does, per device, while it is asked to clear Activation Lock. */
  const whileUnlocking = new Map<string, () => void>();
  let app: INestApplication;
  let url = '';
  let apiKey = '';
  let dir = '';

  beforeAll(async () => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    dir = mkdtempSync(join(tmpdir(), 'turnaround-preservation-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', TURNAROUND_DATA_DIR: dir, PORT: String(port), TURNAROUND_RELEASE_TIMEOUT_SECONDS: '60', TURNAROUND_PHASE_DEADLINE_SECONDS: '1' });
    apiKey = config.apiKey;
    await transport.subscribe('observer', ['#'], async (envelope) => {
      published.push(envelope as Envelope<Record<string, unknown>>);
    });
    await transport.serve('escrow', [DescribeBootstrapToken.routingKey], async (envelope) => {
      const { udid } = (envelope as Envelope<{ udid: string }>).data;

      return escrowed.has(udid) ? { present: true, version: 1, escrowedAt: new Date().toISOString() } : { present: false };
    });
    await transport.serve('escrow', [ClearActivationLock.routingKey], async (envelope) => {
      const data = (envelope as Envelope<Record<string, unknown>>).data;
      unlockRequests.push(data);
      whileUnlocking.get(String(data.udid))?.();

      return { outcome: unlockOutcome.get(String(data.udid)) ?? 'no-code' };
    });
    await serveEnrollmentProfiles(transport);
    app = await startServices(config, transport, [{ service: 'provisioning', module: ProvisioningModule.register(config, transport) }]);
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    await transport.idle();

    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }

  async function emit<T>(contract: { routingKey: string; schema: { parse(v: unknown, p: string): T } }, data: T, udid: string): Promise<void> {
    await transport.publish(createEnvelope(contract as never, 'commands', data as never, { subject: udid }));
    await transport.idle();
    // A clear of Activation Lock follows the commit of the handler that asked for it.
    await app.get(ReturnToServiceService).settled();
    await transport.idle();
  }

  async function ask<T>(contract: { routingKey: string }, data: unknown, udid: string): Promise<T> {
    const reply = (await transport.request(createEnvelope(contract as never, 'checkin', data as never, { subject: udid }), 2_000)) as T;
    await transport.idle();

    return reply;
  }

  /** What the commands service asks as it delivers an InstallProfile queued by reference. */
  async function renderProfile(udid: string, attachment: NonNullable<QueuedEntry['attachProfile']>): Promise<ReplyOf<typeof RenderProfile>> {
    const envelope = createEnvelope(RenderProfile, 'commands', { udid, ...attachment }, { subject: udid });

    return (await transport.request(envelope, 2_000)) as ReplyOf<typeof RenderProfile>;
  }

  interface DeviceFacts {
    platform?: 'ios' | 'visionos' | 'tvos';
    osVersion?: string;
    ade?: boolean;
    activationLock?: boolean;
    supervised?: boolean;
    awaiting?: boolean;
  }

  async function enroll(udid: string, enrollmentId: string, facts: DeviceFacts = {}): Promise<void> {
    const platform = facts.platform ?? 'ios';
    const productName = { ios: 'iPhone17,1', visionos: 'RealityDevice14,1', tvos: 'AppleTV14,1' }[platform];
    await emit(DeviceEnrolled, {
      udid,
      enrollmentId,
      fresh: true,
      awaitingConfiguration: facts.awaiting ?? false,
      userEnrollment: false,
      certificateFingerprint: `fp-${enrollmentId}`,
      platform,
      productName,
      serialNumber: `SER-${udid}`,
      osVersion: facts.osVersion ?? '26.1',
    }, udid);
    const inventory = queuedFor(udid, enrollmentId);
    const security = inventory.find((command) => command.requestType === 'SecurityInfo')!;
    await emit(CommandAcknowledged, { udid, enrollmentId, commandUuid: security.commandUuid, requestType: 'SecurityInfo', facts: { securityInfo: { enrolledViaDep: facts.ade ?? true } } }, udid);
    const information = inventory.find((command) => command.requestType === 'DeviceInformation')!;
    await emit(CommandAcknowledged, {
      udid,
      enrollmentId,
      commandUuid: information.commandUuid,
      requestType: 'DeviceInformation',
      facts: { deviceInformation: { isSupervised: facts.supervised ?? false, isActivationLockEnabled: facts.activationLock ?? false } },
    }, udid);
    if (facts.awaiting) {
      await emit(AwaitConfiguration, { udid, enrollmentId }, udid);
    }
  }

  function queuedFor(udid: string, enrollmentId?: string): QueuedEntry[] {
    return published
      .filter((event) => event.type === EnqueueCommands.routingKey && event.subject === udid && (!enrollmentId || event.data.enrollmentId === enrollmentId))
      .flatMap((event) => (event.data.commands as (Omit<QueuedEntry, 'command'> & { command: string })[]).map((entry) => ({
        ...entry,
        command: decodePlist(Buffer.from(entry.command, 'base64')) as PlistDict,
      })));
  }

  async function configure(name: string, body: Record<string, unknown>): Promise<void> {
    const saved = await api('PUT', `/rts-configurations/${name}`, body);
    expect(saved.status).toBe(200);
  }

  async function cycleOf(udid: string): Promise<any> {
    return (await api('GET', `/devices/${udid}/cycles`)).json[0];
  }

  async function ack(udid: string, enrollmentId: string, command: QueuedEntry, facts?: Record<string, unknown>): Promise<void> {
    await emit(CommandAcknowledged, { udid, enrollmentId, commandUuid: command.commandUuid, requestType: command.requestType, ...(facts ? { facts } : {}) }, udid);
  }

  function eventsOf(cycleId: string): string[] {
    return published.filter((event) => event.correlationid === cycleId && event.type.startsWith('provisioning.')).map((event) => event.type);
  }

  it('keeps the apps: the erase asks for the token at delivery, and the snapshot phase ends with SnapshotReady', async () => {
    await configure('keep-apps', {
      wifiProfile: visionWifi().toString('base64'),
      preserveApps: true,
      temporarySessionTimeout: 900,
      plan: { apps: [{ identifier: 'com.example.shift' }, { iTunesStoreID: 361309726 }] },
    });
    escrowed.add('UDID-KEEP');
    await enroll('UDID-KEEP', 'E1', { platform: 'visionos' });
    const started = await api('POST', '/return-to-service', { devices: ['UDID-KEEP'], configuration: 'keep-apps' });
    expect(started.json.results[0].error).toBeUndefined();
    const cycleId = started.json.results[0].cycleId;

    const erase = queuedFor('UDID-KEEP', 'E1').find((command) => command.requestType === 'EraseDevice')!;
    // The queued erase never holds the token: the commands service attaches it when it delivers.
    expect(erase.command.ReturnToService).not.toHaveProperty('BootstrapToken');
    expect(erase.attachBootstrapToken).toEqual({ reason: `erase for cycle ${cycleId}` });

    await ack('UDID-KEEP', 'E1', erase);
    await enroll('UDID-KEEP', 'E2', { platform: 'visionos', awaiting: true });
    const plan = queuedFor('UDID-KEEP', 'E2');
    expect(plan.map((command) => command.requestType)).toEqual([
      'DeviceInformation', 'SecurityInfo', 'ActivationLockBypassCode',
      'InstallApplication', 'InstallApplication', 'InstallProfile', 'Settings',
    ]);
    const settings = plan.find((command) => command.requestType === 'Settings')!;
    expect(settings.command.Settings).toEqual([{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }]);
    // The standing Wi-Fi profile holds the network's password: queued by reference, its bytes
    // rendered only for the commands service as it delivers the command (issue #4).
    const wifi = plan.find((command) => command.requestType === 'InstallProfile')!;
    expect(wifi.command).toEqual({ RequestType: 'InstallProfile' });
    expect(wifi.attachProfile).toEqual({ cycleId, profile: { source: 'standing-wifi', digest: profileDigest(visionWifi(), profileReferenceKey(apiKey)) } });
    expect(Buffer.from((await renderProfile('UDID-KEEP', wifi.attachProfile!)).payload, 'base64')).toEqual(visionWifi());
    await expect(renderProfile('UDID-OTHER', wifi.attachProfile!)).rejects.toMatchObject({ code: 'CYCLE.NOT_FOUND' });
    // An app installed after DeviceConfigured would miss the snapshot: the release waits for the
    // installs' final answers. A NotNow is not one.
    const [shift, store] = plan.filter((command) => command.requestType === 'InstallApplication');
    await emit(CommandNotNow, { udid: 'UDID-KEEP', enrollmentId: 'E2', commandUuid: shift!.commandUuid, requestType: 'InstallApplication' }, 'UDID-KEEP');
    await ack('UDID-KEEP', 'E2', store!);
    expect(queuedFor('UDID-KEEP', 'E2').map((command) => command.requestType)).not.toContain('DeviceConfigured');
    await ack('UDID-KEEP', 'E2', shift!);
    const queue = queuedFor('UDID-KEEP', 'E2');
    expect(queue.slice(plan.length).map((command) => command.requestType)).toEqual(['DeviceConfigured', 'ManagedApplicationList']);
    const release = queue.find((command) => command.requestType === 'DeviceConfigured')!;
    expect(release.whileAwaitingConfiguration).toBe(true);
    const inventory = queue.at(-1)!;

    await ack('UDID-KEEP', 'E2', release);
    expect((await cycleOf('UDID-KEEP')).state).toBe('snapshotting');
    // The device answers NotNow while it installs, removes and snapshots: never a failure.
    await emit(CommandNotNow, { udid: 'UDID-KEEP', enrollmentId: 'E2', commandUuid: inventory.commandUuid, requestType: 'ManagedApplicationList' }, 'UDID-KEEP');
    await emit(CommandNotNow, { udid: 'UDID-KEEP', enrollmentId: 'E2', commandUuid: inventory.commandUuid, requestType: 'ManagedApplicationList' }, 'UDID-KEEP');
    expect((await cycleOf('UDID-KEEP')).state).toBe('snapshotting');

    await ack('UDID-KEEP', 'E2', inventory, {
      applications: [
        { list: 'ManagedApplicationList', identifier: 'com.example.shift', shortVersion: '3.1', status: 'Managed' },
        { list: 'ManagedApplicationList', identifier: null },
      ],
    });
    const cycle = await cycleOf('UDID-KEEP');
    expect(cycle).toMatchObject({ state: 'returned-to-service', preserveApps: true, trigger: 'service' });
    expect(cycle.snapshot).toMatchObject({ notNowAnswers: 2, apps: [{ identifier: 'com.example.shift', version: '3.1', status: 'Managed' }] });
    expect(cycle.phasesMs.snapshot).toBeGreaterThanOrEqual(0);
    expect(cycle.transitions.map((transition: { to: string }) => transition.to)).toEqual([
      'requested', 'erase-queued', 'erase-acknowledged', 'provisioning', 'configured', 'snapshotting', 'returned-to-service',
    ]);
    const ready = published.find((event) => event.type === 'provisioning.rts-cycle.snapshot-ready.v1' && event.correlationid === cycleId)!;
    expect(ready.data).toMatchObject({ udid: 'UDID-KEEP', notNowAnswers: 2, apps: [{ identifier: 'com.example.shift' }] });
    expect((await api('GET', '/devices/UDID-KEEP')).json.state).toBe('in-service');
  });

  it('runs a standard RTS and says why when no bootstrap token is escrowed (B08)', async () => {
    await configure('keep-apps-ios', { wifiProfile: WIFI.toString('base64'), preserveApps: true });
    await enroll('UDID-NOTOKEN', 'E1');
    const cycleId = (await api('POST', '/return-to-service', { devices: ['UDID-NOTOKEN'], configuration: 'keep-apps-ios' })).json.results[0].cycleId;
    const erase = queuedFor('UDID-NOTOKEN', 'E1').find((command) => command.requestType === 'EraseDevice')!;

    expect(erase.attachBootstrapToken).toBeUndefined();
    const cycle = await cycleOf('UDID-NOTOKEN');
    expect(cycle.preserveApps).toBe(false);
    expect(cycle.preservationDeclined).toMatch(/no bootstrap token is escrowed/);
    expect(eventsOf(cycleId)).toContain('provisioning.rts-cycle.app-preservation-declined.v1');
  });

  it.each([
    ['tvOS', { platform: 'tvos' as const, osVersion: '26.1' }, /tvOS has standard Return to Service only/],
    ['an OS before 26', { osVersion: '18.6' }, /needs ios 26.0 or later/],
    ['a device not enrolled through ADE', { ade: false }, /not enrolled through Automated Device Enrollment/],
  ])('declines app preservation for %s, and still returns the device to service', async (_label, facts, reason) => {
    const udid = `UDID-DECLINE-${published.length}`;
    escrowed.add(udid);
    await enroll(udid, 'E1', facts);
    await api('POST', '/return-to-service', { devices: [udid], configuration: 'keep-apps-ios' });
    const cycle = await cycleOf(udid);

    expect(cycle.state).toBe('erase-queued');
    expect(cycle.preserveApps).toBe(false);
    expect(cycle.preservationDeclined).toMatch(reason);
  });

  it('releases an app-preservation device at the release timeout even if an app install never finishes', async () => {
    escrowed.add('UDID-SLOWAPP');
    await configure('keep-apps-slow', { wifiProfile: WIFI.toString('base64'), preserveApps: true, plan: { apps: [{ identifier: 'com.example.slow' }] } });
    await enroll('UDID-SLOWAPP', 'E1');
    await api('POST', '/return-to-service', { devices: ['UDID-SLOWAPP'], configuration: 'keep-apps-slow' });
    await enroll('UDID-SLOWAPP', 'E2', { awaiting: true });
    expect(queuedFor('UDID-SLOWAPP', 'E2').map((command) => command.requestType)).not.toContain('DeviceConfigured');

    await app.get(CycleTimerService).tick(new Date(Date.now() + 61_000));
    await transport.idle();
    expect(queuedFor('UDID-SLOWAPP', 'E2').slice(-2).map((command) => command.requestType)).toEqual(['DeviceConfigured', 'ManagedApplicationList']);
    const placement = published.filter((event) => event.type === EnqueueCommands.routingKey && event.subject === 'UDID-SLOWAPP').at(-1)!.data.placement;
    expect(placement).toBe('front');
    const notes = (await cycleOf('UDID-SLOWAPP')).transitions.map((transition: { reason: string | null }) => transition.reason);
    expect(notes).toContain('release timeout after 60 s; unfinished steps: InstallApplication (queued)');
  });

  it('asks for the inventory again when it was answered before DeviceConfigured', async () => {
    escrowed.add('UDID-EARLYINV');
    await enroll('UDID-EARLYINV', 'E1');
    await api('POST', '/return-to-service', { devices: ['UDID-EARLYINV'], configuration: 'keep-apps-ios' });
    await enroll('UDID-EARLYINV', 'E2', { awaiting: true });
    const [release, early] = queuedFor('UDID-EARLYINV', 'E2').slice(-2);
    await emit(CommandNotNow, { udid: 'UDID-EARLYINV', enrollmentId: 'E2', commandUuid: release!.commandUuid, requestType: 'DeviceConfigured' }, 'UDID-EARLYINV');
    await ack('UDID-EARLYINV', 'E2', early!, { applications: [] });

    const again = queuedFor('UDID-EARLYINV', 'E2').at(-1)!;
    expect(again.requestType).toBe('ManagedApplicationList');
    expect(again.commandUuid).not.toBe(early!.commandUuid);
    expect((await cycleOf('UDID-EARLYINV')).state).toBe('provisioning');

    await ack('UDID-EARLYINV', 'E2', release!);
    await ack('UDID-EARLYINV', 'E2', again, { applications: [{ list: 'ManagedApplicationList', identifier: 'com.example.shift' }] });
    expect((await cycleOf('UDID-EARLYINV')).state).toBe('returned-to-service');
  });

  it('stalls a snapshot phase that never ends, with the reason', async () => {
    escrowed.add('UDID-SNAPSTALL');
    await enroll('UDID-SNAPSTALL', 'E1');
    await api('POST', '/return-to-service', { devices: ['UDID-SNAPSTALL'], configuration: 'keep-apps-ios' });
    await enroll('UDID-SNAPSTALL', 'E2', { awaiting: true });
    const release = queuedFor('UDID-SNAPSTALL', 'E2').find((command) => command.requestType === 'DeviceConfigured')!;
    await ack('UDID-SNAPSTALL', 'E2', release);

    await new Promise((done) => setTimeout(done, 1_100));
    await app.get(CycleTimerService).tick();
    const cycle = await cycleOf('UDID-SNAPSTALL');
    expect(cycle.state).toBe('stalled');
    expect(cycle.reason).toMatch(/no progress in snapshotting/);
  });

  it('answers the ReturnToService check-in only for devices with a configuration, and records the trigger', async () => {
    await enroll('UDID-SELF', 'E1', { platform: 'visionos' });
    escrowed.add('UDID-SELF');
    const refused = await ask<Record<string, unknown>>(PrepareDeviceReturnToService, { udid: 'UDID-SELF', enrollmentId: 'E1' }, 'UDID-SELF');
    expect(refused).toEqual({ enabled: false, reason: 'no RTS configuration is assigned to the device' });

    const assigned = await api('POST', '/rts-assignments', { devices: ['UDID-SELF', 'UDID-NOBODY'], configuration: 'keep-apps' });
    expect(assigned.json.results).toEqual([{ udid: 'UDID-SELF' }, { udid: 'UDID-NOBODY', error: expect.objectContaining({ code: 'DEVICE.NOT_FOUND' }) }]);
    // Assigning puts the idle timeout on the headset at once, so the idle trigger works before a first cycle.
    expect(queuedFor('UDID-SELF', 'E1').map((command) => command.requestType)).toContain('Settings');

    const reply = await ask<Record<string, unknown>>(PrepareDeviceReturnToService, { udid: 'UDID-SELF', enrollmentId: 'E1' }, 'UDID-SELF');
    expect(reply).toMatchObject({ enabled: true, trigger: 'user', attachBootstrapToken: true, wifiProfileData: visionWifi().toString('base64') });
    expect(reply.wifiProfileData).toBeDefined();
    const cycleId = reply.cycleId as string;
    expect((await cycleOf('UDID-SELF')).state).toBe('requested');

    await emit(ReturnToServiceAnswered, { udid: 'UDID-SELF', enrollmentId: 'E1', enabled: true, cycleId, bootstrapTokenIncluded: true }, 'UDID-SELF');
    const cycle = await cycleOf('UDID-SELF');
    expect(cycle).toMatchObject({ id: cycleId, state: 'erase-acknowledged', trigger: 'user', preserveApps: true });
    expect(queuedFor('UDID-SELF', 'E1').map((command) => command.requestType)).not.toContain('EraseDevice');
  });

  it('fails a device-triggered cycle whose answer went out as Enabled false, and declines preservation when the token was missing', async () => {
    await enroll('UDID-SELF2', 'E1');
    escrowed.add('UDID-SELF2');
    await api('POST', '/rts-assignments', { devices: ['UDID-SELF2'], configuration: 'keep-apps-ios' });
    const first = await ask<{ cycleId: string }>(PrepareDeviceReturnToService, { udid: 'UDID-SELF2', enrollmentId: 'E1' }, 'UDID-SELF2');
    await emit(ReturnToServiceAnswered, { udid: 'UDID-SELF2', enrollmentId: 'E1', enabled: false, cycleId: first.cycleId, bootstrapTokenIncluded: false }, 'UDID-SELF2');
    expect((await cycleOf('UDID-SELF2')).state).toBe('failed');

    const second = await ask<{ cycleId: string }>(PrepareDeviceReturnToService, { udid: 'UDID-SELF2', enrollmentId: 'E1' }, 'UDID-SELF2');
    await emit(ReturnToServiceAnswered, { udid: 'UDID-SELF2', enrollmentId: 'E1', enabled: true, cycleId: second.cycleId, bootstrapTokenIncluded: false }, 'UDID-SELF2');
    const cycle = await cycleOf('UDID-SELF2');
    expect(cycle).toMatchObject({ id: second.cycleId, state: 'erase-acknowledged', preserveApps: false });
    expect(cycle.preservationDeclined).toMatch(/no bootstrap token was in escrow when the device was answered/);
  });

  it('clears Activation Lock before the erase, and blocks the cycle without an erase when it cannot', async () => {
    await configure('standard', { wifiProfile: WIFI.toString('base64') });
    await enroll('UDID-LOCKED', 'E1', { activationLock: true });
    unlockOutcome.set('UDID-LOCKED', 'refused');
    const blocked = (await api('POST', '/return-to-service', { devices: ['UDID-LOCKED'], configuration: 'standard' })).json.results[0];
    const cycle = await cycleOf('UDID-LOCKED');

    expect(cycle).toMatchObject({ id: blocked.cycleId, state: 'blocked' });
    expect(cycle.reason).toMatch(/Activation Lock is on and could not be cleared \(refused/);
    expect(queuedFor('UDID-LOCKED').map((command) => command.requestType)).not.toContain('EraseDevice');
    expect(unlockRequests.at(-1)).toMatchObject({ udid: 'UDID-LOCKED', serialNumber: 'SER-UDID-LOCKED', productType: 'iPhone17,1', reason: `erase for cycle ${blocked.cycleId}` });

    // A new request replaces the blocked cycle; this time escrow clears the lock.
    unlockOutcome.set('UDID-LOCKED', 'cleared');
    const retried = (await api('POST', '/return-to-service', { devices: ['UDID-LOCKED'], configuration: 'standard' })).json.results[0];
    expect(retried.cycleId).toBeDefined();
    expect((await cycleOf('UDID-LOCKED')).state).toBe('erase-queued');
    expect(queuedFor('UDID-LOCKED').map((command) => command.requestType)).toContain('EraseDevice');
    const history = (await api('GET', '/devices/UDID-LOCKED/cycles')).json;
    expect(history[1]).toMatchObject({ id: blocked.cycleId, state: 'failed' });
  });

  it('asks a supervised device again right before the erase whether Activation Lock is on', async () => {
    await enroll('UDID-RELOCKED', 'E1', { supervised: true, activationLock: false });
    unlockOutcome.set('UDID-RELOCKED', 'refused');
    const started = (await api('POST', '/return-to-service', { devices: ['UDID-RELOCKED'], configuration: 'standard' })).json.results[0];
    const check = queuedFor('UDID-RELOCKED', 'E1').at(-1)!;

    expect(check.command).toMatchObject({ RequestType: 'DeviceInformation', Queries: ['IsActivationLockEnabled'] });
    expect(queuedFor('UDID-RELOCKED').map((command) => command.requestType)).not.toContain('EraseDevice');
    expect((await cycleOf('UDID-RELOCKED')).state).toBe('requested');

    // A person turned it on since: escrow is asked to clear it, cannot, and no erase goes out.
    await ack('UDID-RELOCKED', 'E1', check, { deviceInformation: { isActivationLockEnabled: true } });
    expect(await cycleOf('UDID-RELOCKED')).toMatchObject({ id: started.cycleId, state: 'blocked' });
    expect(queuedFor('UDID-RELOCKED').map((command) => command.requestType)).not.toContain('EraseDevice');

    unlockOutcome.set('UDID-RELOCKED', 'cleared');
    await api('POST', '/return-to-service', { devices: ['UDID-RELOCKED'], configuration: 'standard' });
    const second = queuedFor('UDID-RELOCKED', 'E1').at(-1)!;
    await ack('UDID-RELOCKED', 'E1', second, { deviceInformation: { isActivationLockEnabled: true } });
    expect((await cycleOf('UDID-RELOCKED')).state).toBe('erase-queued');
    expect(queuedFor('UDID-RELOCKED', 'E1').at(-1)!.requestType).toBe('EraseDevice');
  });

  it('rolls the lock check’s handling back whole when the erase cannot be queued, and queues it on the retry', async () => {
    await enroll('UDID-RETRIED', 'E1', { supervised: true, activationLock: false });
    const started = (await api('POST', '/return-to-service', { devices: ['UDID-RETRIED'], configuration: 'standard' })).json.results[0];
    const check = queuedFor('UDID-RETRIED', 'E1').at(-1)!;
    // The erase's enqueue fails once, after the cycle moved to erase-queued in the same unit.
    const enqueue = jest.spyOn(app.get(CycleService), 'enqueue').mockRejectedValueOnce(new Error('database went away'));
    try {
      await ack('UDID-RETRIED', 'E1', check, { deviceInformation: { isActivationLockEnabled: false } });
    } finally {
      enqueue.mockRestore();
    }

    expect(await cycleOf('UDID-RETRIED')).toMatchObject({ id: started.cycleId, state: 'erase-queued' });
    expect(queuedFor('UDID-RETRIED', 'E1').filter((command) => command.requestType === 'EraseDevice')).toHaveLength(1);
    const states = (await cycleOf('UDID-RETRIED')).transitions.map((transition: { to: string }) => transition.to);
    expect(states).not.toContain('failed');
  });

  it('asks escrow to clear Activation Lock only once the lock check’s answer is committed', async () => {
    await enroll('UDID-COMMITTED', 'E1', { supervised: true, activationLock: false });
    unlockOutcome.set('UDID-COMMITTED', 'cleared');
    const started = (await api('POST', '/return-to-service', { devices: ['UDID-COMMITTED'], configuration: 'standard' })).json.results[0];
    const check = queuedFor('UDID-COMMITTED', 'E1').at(-1)!;
    // Another connection to the database file reads only what has been committed.
    let committed: Record<string, unknown> | undefined;
    whileUnlocking.set('UDID-COMMITTED', () => {
      const database = new Database(join(dir, 'provisioning.sqlite'), { readonly: true, fileMustExist: true });
      try {
        committed = {
          device: database.prepare('SELECT "activationLockEnabled" FROM "managed_devices" WHERE "udid" = ?').get('UDID-COMMITTED'),
          cycle: database.prepare('SELECT "state", "lockCheckedAt" FROM "rts_cycles" WHERE "id" = ?').get(started.cycleId),
        };
      } finally {
        database.close();
      }
    });

    await ack('UDID-COMMITTED', 'E1', check, { deviceInformation: { isActivationLockEnabled: true } });

    expect(committed).toEqual({ device: { activationLockEnabled: 1 }, cycle: { state: 'requested', lockCheckedAt: expect.any(String) } });
    expect(await cycleOf('UDID-COMMITTED')).toMatchObject({ id: started.cycleId, state: 'erase-queued' });
    expect(queuedFor('UDID-COMMITTED', 'E1').at(-1)!.requestType).toBe('EraseDevice');
  });

  it('takes up a start left after the lock check’s answer, clearing Activation Lock and queueing the erase', async () => {
    await enroll('UDID-LEFT', 'E1', { supervised: true, activationLock: false });
    unlockOutcome.set('UDID-LEFT', 'cleared');
    const started = (await api('POST', '/return-to-service', { devices: ['UDID-LEFT'], configuration: 'standard' })).json.results[0];
    const check = queuedFor('UDID-LEFT', 'E1').at(-1)!;
    // The erase that follows the clear cannot be queued, as when the process stops in between.
    const enqueue = jest.spyOn(app.get(CycleService), 'enqueue').mockRejectedValueOnce(new Error('database went away'));
    try {
      await ack('UDID-LEFT', 'E1', check, { deviceInformation: { isActivationLockEnabled: true } });
    } finally {
      enqueue.mockRestore();
    }
    const repository = app.get(ProvisioningRepository);
    expect(await repository.findCycle(started.cycleId)).toMatchObject({ lockCheckedAt: expect.any(Date), eraseQueuedAt: null });
    expect(queuedFor('UDID-LEFT').map((command) => command.requestType)).not.toContain('EraseDevice');

    await app.get(CycleTimerService).tick(new Date(Date.now() + 31_000));
    await transport.idle();

    expect(await cycleOf('UDID-LEFT')).toMatchObject({ id: started.cycleId, state: 'erase-queued' });
    expect(queuedFor('UDID-LEFT', 'E1').filter((command) => command.requestType === 'EraseDevice')).toHaveLength(1);
    expect(unlockRequests.filter((request) => request.udid === 'UDID-LEFT')).toHaveLength(2);
  });

  it('asks a supervised device about Activation Lock when its interrupted start is taken up, instead of erasing it', async () => {
    await enroll('UDID-INTERRUPTED', 'E1', { supervised: true, activationLock: false });
    const repository = app.get(ProvisioningRepository);
    const configuration = (await repository.findConfiguration('standard'))!;
    // The process stopped after storing the cycle and before queueing the lock check.
    const cycleId = randomUUID();
    await repository.startCycle(cycleRow(cycleId, 'UDID-INTERRUPTED', 'requested', new Date(), {
      configurationId: configuration.id,
      configurationName: configuration.name,
      enrollmentId: 'E1',
      eraseCommandUuid: randomUUID().toUpperCase(),
    }));

    await app.get(CycleTimerService).tick(new Date(Date.now() + 31_000));
    await transport.idle();

    const check = queuedFor('UDID-INTERRUPTED', 'E1').at(-1)!;
    expect(check.command).toMatchObject({ RequestType: 'DeviceInformation', Queries: ['IsActivationLockEnabled'] });
    expect(queuedFor('UDID-INTERRUPTED').map((command) => command.requestType)).not.toContain('EraseDevice');
    expect(await repository.findCycle(cycleId)).toMatchObject({ lockCheckCommandUuid: check.commandUuid, eraseQueuedAt: null });

    await ack('UDID-INTERRUPTED', 'E1', check, { deviceInformation: { isActivationLockEnabled: false } });
    expect(await cycleOf('UDID-INTERRUPTED')).toMatchObject({ id: cycleId, state: 'erase-queued' });
    expect(queuedFor('UDID-INTERRUPTED', 'E1').at(-1)!.requestType).toBe('EraseDevice');
  });

  it('clears Activation Lock of a supervised device that asks for RTS itself, whatever it said last', async () => {
    await enroll('UDID-SELF-LOCK', 'E1', { supervised: true, activationLock: false });
    await api('POST', '/rts-assignments', { devices: ['UDID-SELF-LOCK'], configuration: 'standard' });
    unlockOutcome.set('UDID-SELF-LOCK', 'cleared');
    const before = unlockRequests.length;

    const reply = await ask<Record<string, unknown>>(PrepareDeviceReturnToService, { udid: 'UDID-SELF-LOCK', enrollmentId: 'E1' }, 'UDID-SELF-LOCK');
    expect(reply).toMatchObject({ enabled: true });
    expect(unlockRequests.slice(before)).toEqual([expect.objectContaining({ udid: 'UDID-SELF-LOCK', reason: `erase for cycle ${reply.cycleId}` })]);

    // It said the lock was off: a failed clear is noted, not a reason to refuse.
    await emit(ReturnToServiceAnswered, { udid: 'UDID-SELF-LOCK', enrollmentId: 'E1', enabled: false, cycleId: reply.cycleId as string, bootstrapTokenIncluded: false }, 'UDID-SELF-LOCK');
    unlockOutcome.set('UDID-SELF-LOCK', 'refused');
    const second = await ask<Record<string, unknown>>(PrepareDeviceReturnToService, { udid: 'UDID-SELF-LOCK', enrollmentId: 'E1' }, 'UDID-SELF-LOCK');
    expect(second).toMatchObject({ enabled: true });
    const notes = (await cycleOf('UDID-SELF-LOCK')).transitions.map((transition: { reason: string | null }) => transition.reason);
    expect(notes).toContain('Activation Lock could not be cleared ahead of the erase (refused); the device last said it was off');
  });

  it('asks for a software update in the enrollment that follows the erase, comparing versions by component', async () => {
    await configure('update-first', { wifiProfile: WIFI.toString('base64'), osPolicy: { minimumVersion: '26.10', whenUnsupported: 'allow' } });
    await enroll('UDID-OLD', 'E1', { osVersion: '26.9' });
    // Outside a cycle nobody is asked to update.
    expect(await ask(CheckEnrollmentPolicy, { udid: 'UDID-OLD', osVersion: '26.9' }, 'UDID-OLD')).toEqual({ action: 'enroll' });
    await api('POST', '/return-to-service', { devices: ['UDID-OLD'], configuration: 'update-first' });

    expect(await ask(CheckEnrollmentPolicy, { udid: 'UDID-OLD', product: 'iPhone17,1', osVersion: '26.9' }, 'UDID-OLD')).toMatchObject({ action: 'update', osVersion: '26.10' });
    expect(await ask(CheckEnrollmentPolicy, { udid: 'UDID-OLD', product: 'iPhone17,1', osVersion: '26.10' }, 'UDID-OLD')).toEqual({ action: 'enroll' });
    const notes = (await cycleOf('UDID-OLD')).transitions.map((transition: { reason: string | null }) => transition.reason);
    expect(notes).toContain('software update required before enrollment: 26.9 → 26.10');
  });

  it('refuses RTS for hardware the OS policy takes out of service', async () => {
    await configure('retire-old', { wifiProfile: WIFI.toString('base64'), osPolicy: { minimumVersion: '27.0', unsupportedProducts: ['iPhone17,'], whenUnsupported: 'block' } });
    await enroll('UDID-RETIRE', 'E1');
    const result = (await api('POST', '/return-to-service', { devices: ['UDID-RETIRE'], configuration: 'retire-old' })).json.results[0];

    expect(result.error.code).toBe('DEVICE.OS_UNSUPPORTED');
  });

  it('refuses configurations that would strand a device, naming the rule', async () => {
    const tooShort = await api('PUT', '/rts-configurations/short', { wifiProfile: WIFI.toString('base64'), temporarySessionTimeout: 10 });
    expect(tooShort.status).toBe(422);
    expect(tooShort.json.message).toMatch(/30/);

    const notPreserving = await api('PUT', '/rts-configurations/flag-without-preservation', { wifiProfile: visionWifi().toString('base64') });
    expect(notPreserving.status).toBe(422);
    expect(notPreserving.json.message).toMatch(/app preservation/i);

    const proxied = await api('PUT', '/rts-configurations/flag-with-proxy', { wifiProfile: visionWifi({ ProxyType: 'Manual', ProxyServer: 'proxy.example.test', ProxyServerPort: 8080 }).toString('base64'), preserveApps: true });
    expect(proxied.status).toBe(422);
    expect(proxied.json.message).toMatch(/ProxyType/);

    const misspelt = await api('PUT', '/rts-configurations/misspelt', { wifiProfile: WIFI.toString('base64'), preserveapps: true });
    expect(misspelt.status).toBe(422);
    expect(misspelt.json.message).toMatch(/unknown field "preserveapps"/);

    const renamed = await api('PUT', '/rts-configurations/one-name', { name: 'another-name', wifiProfile: WIFI.toString('base64') });
    expect(renamed.status).toBe(400);

    const scripted = await api('PUT', '/rts-configurations/scripted', { wifiProfile: WIFI.toString('base64'), ade: { configuration_web_url: 'javascript:alert(1)' } });
    expect(scripted.status).toBe(422);

    const saved = await api('GET', '/rts-configurations/keep-apps');
    expect(saved.json).toMatchObject({ preserveApps: true, temporarySessionTimeout: 900, wifi: { allowJoinBeforeFirstUnlock: true } });
    expect(JSON.stringify(saved.json)).not.toContain('correct horse');
  });

  it('shows the operator why the device refused a profile of the plan (B03)', async () => {
    await configure('with-profile', { wifiProfile: WIFI.toString('base64'), plan: { profiles: [{ name: 'Headset Wi-Fi', payload: visionWifi().toString('base64') }] } });
    await enroll('UDID-PROFILE-ERROR', 'E1');
    await api('POST', '/return-to-service', { devices: ['UDID-PROFILE-ERROR'], configuration: 'with-profile' });
    await enroll('UDID-PROFILE-ERROR', 'E2', { awaiting: true });
    const install = queuedFor('UDID-PROFILE-ERROR', 'E2').find((command) => command.requestType === 'InstallProfile')!;
    await emit(CommandFailed, {
      udid: 'UDID-PROFILE-ERROR',
      enrollmentId: 'E2',
      commandUuid: install.commandUuid,
      requestType: 'InstallProfile',
      status: 'Error',
      errors: [{ domain: 'MCInstallationErrorDomain', code: 4001, description: 'The Wi-Fi payload could not be installed' }],
    }, 'UDID-PROFILE-ERROR');

    const step = (await cycleOf('UDID-PROFILE-ERROR')).plan.find((entry: { commandUuid: string }) => entry.commandUuid === install.commandUuid);
    expect(step).toMatchObject({ requestType: 'InstallProfile', outcome: 'error', error: 'InstallProfile Error: MCInstallationErrorDomain 4001 The Wi-Fi payload could not be installed' });
  });

  it('treats a refused second DeviceConfigured as the release it stands for', async () => {
    escrowed.delete('UDID-TWICE');
    await enroll('UDID-TWICE', 'E1');
    await api('POST', '/return-to-service', { devices: ['UDID-TWICE'], configuration: 'standard' });
    await enroll('UDID-TWICE', 'E2', { awaiting: true });
    const release = queuedFor('UDID-TWICE', 'E2').find((command) => command.requestType === 'DeviceConfigured')!;
    await emit(CommandFailed, { udid: 'UDID-TWICE', enrollmentId: 'E2', commandUuid: release.commandUuid, requestType: 'DeviceConfigured', status: 'Refused', errors: [{ description: 'DeviceConfigured was already acknowledged for this enrollment' }] }, 'UDID-TWICE');

    expect((await cycleOf('UDID-TWICE')).state).toBe('returned-to-service');
  });
});
