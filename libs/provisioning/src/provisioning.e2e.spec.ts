import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { INestApplication } from '@nestjs/common';

import {
  AwaitConfiguration,
  CommandAcknowledged,
  CommandFailed,
  CommandNotNow,
  createEnvelope,
  DeviceEnrolled,
  EnqueueCommands,
  Envelope,
  PrioritizeCommand,
  RenderProfile,
  RenderReturnToServiceProfiles,
  ReplyOf,
} from '@turnaround/contracts';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, setLogLevel } from '@turnaround/platform';
import { decodePlist, PlistDict } from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { profileDigest, profileReferenceKey } from './domain/profile-reference.js';
import type { ProvisioningRepository } from './data-access/provisioning.repository.js';
import type { CycleService } from './feature/cycle.service.js';
import { CycleTimerService } from './feature/cycle-timer.service.js';
import { PROVISIONING_SETTINGS, type ProvisioningSettings } from './feature/provisioning.settings.js';
import { ReturnToServiceService } from './feature/return-to-service.service.js';
import { ProvisioningModule } from './provisioning.module.js';
import { serveEnrollmentProfiles } from './testing/enrollment-profiles.js';

const WIFI = readFileSync(resolve(process.cwd(), '../shared/fixtures/real/profile/wifi-return-to-service-hidden-any.mobileconfig'));
const RESTRICTIONS = readFileSync(resolve(process.cwd(), '../shared/fixtures/real/profile/restrictions-ios-targetdevicetype.mobileconfig'));
const EAP_WITHOUT_CREDENTIALS = readFileSync(resolve(process.cwd(), '../shared/fixtures/real/profile/wifi-wpa-enterprise-peap-proxy-pac-multi-payload.mobileconfig'));

interface QueuedCommand {
  commandUuid: string;
  requestType: string;
  command: PlistDict;
  attachReturnToServiceProfiles?: { cycleId: string };
  attachProfile?: { cycleId: string; profile: { source: 'plan' | 'standing-wifi'; name?: string; digest: string } };
}


/**
 * The provisioning service alone, driven by the events the other services would send: the admin
 * API on one side, the bus on the other.
 */
describe('provisioning workflow', () => {
  const transport = new InProcessTransport({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
  const published: Envelope<Record<string, unknown>>[] = [];
  let app: INestApplication;
  let url = '';
  let apiKey = '';
  let dir = '';
  let issuedProfiles = 0;

  beforeAll(async () => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    dir = mkdtempSync(join(tmpdir(), 'turnaround-provisioning-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', TURNAROUND_DATA_DIR: dir, PORT: String(port), TURNAROUND_RELEASE_TIMEOUT_SECONDS: '1', TURNAROUND_PHASE_DEADLINE_SECONDS: '2' });
    apiKey = config.apiKey;
    await transport.subscribe('observer', ['#'], async (envelope) => {
      published.push(envelope as Envelope<Record<string, unknown>>);
    });
    await serveEnrollmentProfiles(transport, () => (issuedProfiles += 1));
    app = await startServices(config, transport, [{ service: 'provisioning', module: ProvisioningModule.register(config, transport) }]);
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(method: string, path: string, body?: unknown, key = apiKey): Promise<{ status: number; json: any }> {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();

    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }

  async function emit<T>(contract: { routingKey: string; schema: { parse(v: unknown, p: string): T } }, data: T, udid: string): Promise<void> {
    await transport.publish(createEnvelope(contract as never, 'commands', data as never, { subject: udid }));
    await transport.idle();
  }

  async function enroll(udid: string, enrollmentId: string, options: { awaiting?: boolean; userEnrollment?: boolean; ade?: boolean; platform?: 'ios' | 'watchos'; osVersion?: string } = {}): Promise<void> {
    await emit(DeviceEnrolled, {
      udid,
      enrollmentId,
      fresh: true,
      awaitingConfiguration: options.awaiting ?? false,
      userEnrollment: options.userEnrollment ?? false,
      certificateFingerprint: `fp-${enrollmentId}`,
      platform: options.platform ?? 'ios',
      productName: options.platform === 'watchos' ? 'Watch7,1' : 'iPhone17,1',
      osVersion: options.osVersion ?? '26.1',
    }, udid);
    if (options.ade !== undefined) {
      const inventory = queuedFor(udid, enrollmentId).find((command) => command.requestType === 'SecurityInfo')!;
      await emit(CommandAcknowledged, { udid, enrollmentId, commandUuid: inventory.commandUuid, requestType: 'SecurityInfo', facts: { securityInfo: { enrolledViaDep: options.ade } } }, udid);
    }
    if (options.awaiting) {
      await emit(AwaitConfiguration, { udid, enrollmentId }, udid);
    }
  }

  function queuedFor(udid: string, enrollmentId?: string): QueuedCommand[] {
    return published
      .filter((event) => event.type === EnqueueCommands.routingKey && event.subject === udid && (!enrollmentId || event.data.enrollmentId === enrollmentId))
      .flatMap((event) => (event.data.commands as (QueuedCommand & { command: string })[]).map((entry) => ({
        ...entry,
        command: decodePlist(Buffer.from(entry.command, 'base64')) as PlistDict,
      })));
  }

  /** What the commands service asks as it delivers an erase. */
  async function renderProfiles(udid: string, cycleId: string): Promise<ReplyOf<typeof RenderReturnToServiceProfiles>> {
    const envelope = createEnvelope(RenderReturnToServiceProfiles, 'commands', { udid, cycleId }, { subject: udid });

    return (await transport.request(envelope, 5_000)) as ReplyOf<typeof RenderReturnToServiceProfiles>;
  }

  /** What the commands service asks as it delivers an InstallProfile queued by reference. */
  async function renderProfile(udid: string, attachment: NonNullable<QueuedCommand['attachProfile']>): Promise<ReplyOf<typeof RenderProfile>> {
    const envelope = createEnvelope(RenderProfile, 'commands', { udid, ...attachment }, { subject: udid });

    return (await transport.request(envelope, 5_000)) as ReplyOf<typeof RenderProfile>;
  }

  async function configure(name: string, extra: Record<string, unknown> = {}): Promise<void> {
    const saved = await api('PUT', `/rts-configurations/${name}`, {
      wifiProfile: WIFI.toString('base64'),
      plan: { profiles: [{ name: 'Restrictions', payload: RESTRICTIONS.toString('base64') }], apps: [{ iTunesStoreID: 361309726 }] },
      ...extra,
    });
    expect(saved.status).toBe(200);
  }

  async function cycleOf(udid: string): Promise<any> {
    return (await api('GET', `/devices/${udid}/cycles`)).json[0];
  }

  it('refuses the admin API without the key', async () => {
    expect((await api('GET', '/devices', undefined, 'wrong')).status).toBe(401);
  });

  it('runs a standard RTS cycle from request to return to service, with every phase timed', async () => {
    await configure('standard');
    await enroll('UDID-STD', 'E1', { ade: true });
    const trigger = await api('POST', '/return-to-service', { devices: ['UDID-STD'], configuration: 'standard' });
    expect(trigger.status).toBe(202);
    const cycleId = trigger.json.results[0].cycleId;
    await transport.idle();

    const erase = queuedFor('UDID-STD', 'E1').find((command) => command.requestType === 'EraseDevice')!;
    // Issue #4: the queued erase holds no profile; the commands service asks for them at delivery.
    expect(erase.command.ReturnToService).toEqual({ Enabled: true });
    expect(erase.attachReturnToServiceProfiles).toEqual({ cycleId });
    expect(JSON.stringify(published)).not.toContain(WIFI.toString('base64'));
    const profiles = await renderProfiles('UDID-STD', cycleId);
    expect(Buffer.from(profiles.wifiProfileData!, 'base64')).toEqual(WIFI);
    expect(profiles).not.toHaveProperty('mdmProfileData');

    await emit(CommandAcknowledged, { udid: 'UDID-STD', enrollmentId: 'E1', commandUuid: erase.commandUuid, requestType: 'EraseDevice' }, 'UDID-STD');
    await expect(renderProfiles('UDID-STD', cycleId)).rejects.toMatchObject({ code: 'CYCLE.NOT_ERASING' });
    await enroll('UDID-STD', 'E2', { awaiting: true });
    const plan = queuedFor('UDID-STD', 'E2').map((command) => command.requestType);
    expect(plan).toEqual(['DeviceInformation', 'SecurityInfo', 'ActivationLockBypassCode', 'InstallProfile', 'InstallApplication', 'DeviceConfigured']);

    const release = queuedFor('UDID-STD', 'E2').at(-1)!;
    await emit(CommandAcknowledged, { udid: 'UDID-STD', enrollmentId: 'E2', commandUuid: release.commandUuid, requestType: 'DeviceConfigured' }, 'UDID-STD');
    const cycle = await cycleOf('UDID-STD');

    expect(cycle).toMatchObject({ id: cycleId, state: 'returned-to-service', trigger: 'service', configuration: 'standard' });
    expect(Object.keys(cycle.phasesMs).sort()).toEqual(['erase', 'provision', 'reenroll', 'total']);
    expect(cycle.transitions.map((transition: { to: string }) => transition.to)).toEqual([
      'requested', 'erase-queued', 'erase-acknowledged', 'provisioning', 'configured', 'returned-to-service',
    ]);
    expect(published.filter((event) => event.correlationid === cycleId && event.type.startsWith('provisioning.rts-cycle.')).map((event) => event.type)).toEqual([
      'provisioning.rts-cycle.requested.v1',
      'provisioning.rts-cycle.erase-queued.v1',
      'provisioning.rts-cycle.erase-acknowledged.v1',
      'provisioning.rts-cycle.provisioning.v1',
      'provisioning.rts-cycle.configured.v1',
      'provisioning.rts-cycle.returned-to-service.v1',
    ]);
    expect((await api('GET', '/devices/UDID-STD')).json.state).toBe('in-service');
  });

  it('queues the plan\'s profiles without their bytes, and renders each only while the configuration holds it as queued (issue #4)', async () => {
    const plan = (wifi: Buffer) => ({ profiles: [{ name: 'Restrictions', payload: RESTRICTIONS.toString('base64') }, { name: 'Office Wi-Fi', payload: wifi.toString('base64') }] });
    await configure('plan-by-reference', { plan: plan(WIFI) });
    await enroll('UDID-PLANREF', 'E1', { ade: true });
    const started = await api('POST', '/return-to-service', { devices: ['UDID-PLANREF'], configuration: 'plan-by-reference' });
    const cycleId = started.json.results[0].cycleId;
    await transport.idle();
    await enroll('UDID-PLANREF', 'E2', { awaiting: true });
    const [restrictions, wifi] = queuedFor('UDID-PLANREF', 'E2').filter((command) => command.requestType === 'InstallProfile');

    expect([restrictions!.command, wifi!.command]).toEqual([{ RequestType: 'InstallProfile' }, { RequestType: 'InstallProfile' }]);
    expect([restrictions!.attachProfile, wifi!.attachProfile]).toEqual([
      { cycleId, profile: { source: 'plan', name: 'Restrictions', digest: profileDigest(RESTRICTIONS, profileReferenceKey(apiKey)) } },
      { cycleId, profile: { source: 'plan', name: 'Office Wi-Fi', digest: profileDigest(WIFI, profileReferenceKey(apiKey)) } },
    ]);
    // No event holds either profile: no queued command has a Payload, nor any event its bytes.
    expect(queuedFor('UDID-PLANREF').filter((command) => 'Payload' in command.command)).toEqual([]);
    expect(JSON.stringify(published)).not.toContain(WIFI.toString('base64'));
    expect(JSON.stringify(published)).not.toContain(RESTRICTIONS.toString('base64'));
    expect(Buffer.from((await renderProfile('UDID-PLANREF', wifi!.attachProfile!)).payload, 'base64')).toEqual(WIFI);

    // The administrator gives the Wi-Fi profile other bytes under the same name: what was queued
    // no longer describes what would be rendered, so nothing is; Restrictions is unchanged.
    await configure('plan-by-reference', { plan: plan(EAP_WITHOUT_CREDENTIALS) });

    expect(Buffer.from((await renderProfile('UDID-PLANREF', restrictions!.attachProfile!)).payload, 'base64')).toEqual(RESTRICTIONS);
    await expect(renderProfile('UDID-PLANREF', wifi!.attachProfile!)).rejects.toMatchObject({ code: 'CYCLE.PROFILE_CHANGED' });
    await expect(renderProfile('UDID-STD', restrictions!.attachProfile!)).rejects.toMatchObject({ code: 'CYCLE.NOT_FOUND' });
    await expect(renderProfile('UDID-PLANREF', { ...restrictions!.attachProfile!, cycleId: 'no-such-cycle' })).rejects.toMatchObject({ code: 'CYCLE.NOT_FOUND' });
  });

  it('adds MDMProfileData when the ADE profile sends the user through configuration_web_url (B01)', async () => {
    await configure('web-auth', { ade: { configuration_web_url: 'https://sso.example.test/enroll' } });
    await enroll('UDID-B01', 'E1', { ade: true });
    const started = await api('POST', '/return-to-service', { devices: ['UDID-B01'], configuration: 'web-auth' });
    expect(started.json.results[0].error).toBeUndefined();
    await transport.idle();
    const erase = queuedFor('UDID-B01').find((command) => command.requestType === 'EraseDevice')!;
    expect(erase.command.ReturnToService).toEqual({ Enabled: true });
    const profile = Buffer.from((await renderProfiles('UDID-B01', started.json.results[0].cycleId)).mdmProfileData!, 'base64');

    // Raw profile bytes, base64-encoded once by the plist encoder, never twice (B02).
    expect(profile.subarray(0, 5).toString()).toBe('<?xml');
    expect((await cycleOf('UDID-B01')).mdmProfileData).toBe('configuration-web-url');
  });

  it('adds MDMProfileData for a device whose ADE enrollment is unknown or absent', async () => {
    const before = issuedProfiles;
    await enroll('UDID-NOADE', 'E1', { ade: false });
    const started = await api('POST', '/return-to-service', { devices: ['UDID-NOADE'], configuration: 'standard' });
    await transport.idle();
    // Issued when the erase goes out, not when it is queued: the identity never sits in an event.
    expect(issuedProfiles).toBe(before);
    expect((await renderProfiles('UDID-NOADE', started.json.results[0].cycleId)).mdmProfileData).toBeDefined();

    expect(issuedProfiles).toBe(before + 1);
    expect((await cycleOf('UDID-NOADE')).mdmProfileData).toBe('not-ade');
  });

  it('fails the cycle when the device refuses the erase, and never marks it erased (B01 variant)', async () => {
    await enroll('UDID-REFUSE', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-REFUSE'], configuration: 'standard' });
    await transport.idle();
    const erase = queuedFor('UDID-REFUSE').find((command) => command.requestType === 'EraseDevice')!;
    await emit(CommandFailed, {
      udid: 'UDID-REFUSE', enrollmentId: 'E1', commandUuid: erase.commandUuid, requestType: 'EraseDevice', status: 'Error',
      errors: [{ code: 12081, domain: 'MCMDMErrorDomain', description: 'An MDM profile is required for Return to Service.' }],
    }, 'UDID-REFUSE');
    const cycle = await cycleOf('UDID-REFUSE');

    expect(cycle.state).toBe('failed');
    expect(cycle.reason).toContain('An MDM profile is required for Return to Service.');
    expect(cycle.eraseAcknowledgedAt).toBeNull();
    expect((await api('GET', '/devices/UDID-REFUSE')).json.state).toBe('in-service');
  });

  it('refuses RTS for a User Enrollment, an unknown device and a second cycle, per device (B22 b)', async () => {
    await enroll('ENR-USER', 'E1', { userEnrollment: true });
    await enroll('UDID-BUSY', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-BUSY'], configuration: 'standard' });
    const answer = await api('POST', '/return-to-service', { devices: ['ENR-USER', 'UDID-NOBODY', 'UDID-BUSY'], configuration: 'standard' });

    expect(answer.status).toBe(202);
    expect(answer.json.results.map((result: { error?: { code: string } }) => result.error?.code)).toEqual([
      'DEVICE.USER_ENROLLMENT', 'DEVICE.NOT_FOUND', 'CYCLE.ALREADY_ACTIVE',
    ]);
    expect((await api('POST', '/return-to-service', { devices: ['UDID-BUSY'], configuration: 'nope' })).json.code).toBe('CONFIGURATION.NOT_FOUND');
    expect((await api('POST', '/return-to-service', { devices: 'UDID-BUSY', configuration: 'standard' })).status).toBe(400);
  });

  it('never lets a NotNow hold the release back, and forces it after the release timeout (B13)', async () => {
    await enroll('UDID-B13', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-B13'], configuration: 'standard' });
    await transport.idle();
    await enroll('UDID-B13', 'E2', { awaiting: true });
    const [install, app] = queuedFor('UDID-B13', 'E2').filter((command) => command.requestType.startsWith('Install'));
    await emit(CommandNotNow, { udid: 'UDID-B13', enrollmentId: 'E2', commandUuid: install!.commandUuid, requestType: 'InstallProfile' }, 'UDID-B13');
    await emit(CommandFailed, { udid: 'UDID-B13', enrollmentId: 'E2', commandUuid: app!.commandUuid, requestType: 'InstallApplication', status: 'Error', errors: [] }, 'UDID-B13');
    await new Promise((done) => setTimeout(done, 1_100));
    await app_timer().tick();
    await transport.idle();
    const release = queuedFor('UDID-B13', 'E2').at(-1)!;
    const prioritized = published.filter((event) => event.type === PrioritizeCommand.routingKey && event.subject === 'UDID-B13');

    expect(prioritized.map((event) => event.data.commandUuid)).toEqual([release.commandUuid]);
    const cycle = await cycleOf('UDID-B13');
    expect(cycle.reason).toContain('InstallProfile (not-now)');
    expect(cycle.plan.map((step: { outcome: string }) => step.outcome)).toEqual(['not-now', 'error']);
  });

  it('stalls a cycle whose phase outlives its deadline, and resumes it when the device comes back', async () => {
    await enroll('UDID-STALL', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-STALL'], configuration: 'standard' });
    await transport.idle();
    await new Promise((done) => setTimeout(done, 2_100));
    await app_timer().tick();
    expect(await cycleOf('UDID-STALL')).toMatchObject({ state: 'stalled', reason: expect.stringContaining('erase-queued') });

    await enroll('UDID-STALL', 'E2', { awaiting: true });
    expect((await cycleOf('UDID-STALL')).state).toBe('provisioning');
  });

  it('provisions again for a second fresh enrollment during provisioning, and releases on that one', async () => {
    await enroll('UDID-TWICE', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-TWICE'], configuration: 'standard' });
    await transport.idle();
    await enroll('UDID-TWICE', 'E2', { awaiting: true });
    await enroll('UDID-TWICE', 'E3', { awaiting: true });
    const release = queuedFor('UDID-TWICE', 'E3').at(-1)!;
    expect(release.requestType).toBe('DeviceConfigured');

    await emit(CommandAcknowledged, { udid: 'UDID-TWICE', enrollmentId: 'E3', commandUuid: release.commandUuid, requestType: 'DeviceConfigured' }, 'UDID-TWICE');
    await emit(CommandAcknowledged, { udid: 'UDID-TWICE', enrollmentId: 'E3', commandUuid: release.commandUuid, requestType: 'DeviceConfigured' }, 'UDID-TWICE');
    const cycle = await cycleOf('UDID-TWICE');

    expect(cycle.state).toBe('returned-to-service');
    expect(cycle.transitions.filter((transition: { to: string }) => transition.to === 'returned-to-service')).toHaveLength(1);
  });

  it('keeps the release timeout\'s reason in the history of a finished cycle', async () => {
    const history = (await api('GET', '/devices/UDID-B13/cycles')).json[0];
    const release = queuedFor('UDID-B13', 'E2').at(-1)!;
    await emit(CommandAcknowledged, { udid: 'UDID-B13', enrollmentId: 'E2', commandUuid: release.commandUuid, requestType: 'DeviceConfigured' }, 'UDID-B13');
    const finished = await cycleOf('UDID-B13');

    expect(history.transitions.map((transition: { reason: string | null }) => transition.reason).join(' ')).toContain('release timeout');
    expect(finished.state).toBe('returned-to-service');
    expect(finished.transitions.map((transition: { reason: string | null }) => transition.reason).join(' ')).toContain('release timeout');
  });

  /** Starts a cycle whose process "dies" right before the erase: that step never finishes. */
  async function startLeftBeforeTheErase(udid: string): Promise<void> {
    await configure('standard');
    await enroll(udid, 'E1', { ade: true });
    const service = app.get(ReturnToServiceService) as unknown as { eraseNow: (...args: unknown[]) => Promise<void> };
    const eraseNow = service.eraseNow;
    service.eraseNow = () => new Promise<void>(() => undefined);
    await fetch(`${url}/api/v1/return-to-service`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ devices: [udid], configuration: 'standard' }),
      signal: AbortSignal.timeout(1_000),
    }).catch(() => undefined);
    service.eraseNow = eraseNow;
  }

  it('takes up a start that its process left before the erase, once it has been quiet half a minute', async () => {
    await startLeftBeforeTheErase('UDID-CRASHED-START');
    const left = await cycleOf('UDID-CRASHED-START');
    expect(left.state).toBe('requested');

    await app_timer().tick();
    expect((await cycleOf('UDID-CRASHED-START')).state).toBe('requested');
    // By then the (short, in this spec) phase deadline has stalled it too: it is still taken up.
    await app_timer().tick(new Date(Date.now() + 31_000));
    await transport.idle();

    expect((await cycleOf('UDID-CRASHED-START')).state).toBe('erase-queued');
    expect(queuedFor('UDID-CRASHED-START', 'E1').filter((command) => command.requestType === 'EraseDevice')).toHaveLength(1);
  });

  it('takes an interrupted start up in one replica when two replicas’ timers find it together', async () => {
    await startLeftBeforeTheErase('UDID-TWO-TIMERS');
    const service = app.get(ReturnToServiceService);
    const resumed: string[] = [];
    const resumeStart = service.resumeStart.bind(service);
    service.resumeStart = async (cycle) => {
      resumed.push(cycle.udid);
      await resumeStart(cycle);
    };
    // A second replica's timer: its own instance over the same database.
    const timer = app_timer() as unknown as { cycles: CycleService; repository: ProvisioningRepository };
    const otherReplica = new CycleTimerService(timer.cycles, timer.repository, service, app.get(PROVISIONING_SETTINGS));
    const later = new Date(Date.now() + 31_000);
    try {
      await Promise.all([app_timer().tick(later), otherReplica.tick(later)]);
      await transport.idle();
    } finally {
      service.resumeStart = resumeStart;
    }

    expect(resumed.filter((udid) => udid === 'UDID-TWO-TIMERS')).toHaveLength(1);
    expect((await cycleOf('UDID-TWO-TIMERS')).state).toBe('erase-queued');
  });

  it('leaves a start alone for as long as its Activation Lock clear may still be waiting for escrow', async () => {
    await startLeftBeforeTheErase('UDID-SLOW-CLEAR');
    const timer = app_timer() as unknown as { cycles: CycleService; repository: ProvisioningRepository };
    // Request timeout 10 s: a clear may wait 50 s, so the start is interrupted only after 60 s.
    const slowEscrow = { ...app.get<ProvisioningSettings>(PROVISIONING_SETTINGS), requestTimeoutMs: 10_000 };
    const patientTimer = new CycleTimerService(timer.cycles, timer.repository, app.get(ReturnToServiceService), slowEscrow);

    // The spec's short phase deadline stalls it meanwhile; it is not taken up.
    await patientTimer.tick(new Date(Date.now() + 45_000));
    await transport.idle();
    expect(queuedFor('UDID-SLOW-CLEAR', 'E1').filter((command) => command.requestType === 'EraseDevice')).toHaveLength(0);

    await patientTimer.tick(new Date(Date.now() + 61_000));
    await transport.idle();
    expect((await cycleOf('UDID-SLOW-CLEAR')).state).toBe('erase-queued');
  });

  it('lets a new request replace a stalled cycle, failing it with the reason', async () => {
    const stalled = await cycleOf('UDID-STALL2');
    expect(stalled).toBeUndefined();
    await enroll('UDID-STALL2', 'E1', { ade: true });
    await api('POST', '/return-to-service', { devices: ['UDID-STALL2'], configuration: 'standard' });
    await transport.idle();
    await new Promise((done) => setTimeout(done, 2_100));
    await app_timer().tick();
    const first = await cycleOf('UDID-STALL2');
    expect(first.state).toBe('stalled');

    const again = await api('POST', '/return-to-service', { devices: ['UDID-STALL2'], configuration: 'standard' });
    const history = (await api('GET', '/devices/UDID-STALL2/cycles')).json;

    expect(again.json.results[0].cycleId).toBeDefined();
    expect(history.map((cycle: { state: string }) => cycle.state)).toEqual(['erase-queued', 'failed']);
    expect(history[1].reason).toContain('replaced by Return to Service request');
  });

  it('releases a device that enrolls awaiting configuration outside any cycle (B06)', async () => {
    await enroll('UDID-FIRST', 'E1', { awaiting: true });

    expect(queuedFor('UDID-FIRST', 'E1').map((command) => command.requestType)).toEqual(['DeviceInformation', 'SecurityInfo', 'ActivationLockBypassCode', 'DeviceConfigured']);
    await emit(AwaitConfiguration, { udid: 'UDID-FIRST', enrollmentId: 'E1' }, 'UDID-FIRST');
    expect(queuedFor('UDID-FIRST', 'E1').filter((command) => command.requestType === 'DeviceConfigured')).toHaveLength(1);
  });

  it.each([
    ['a Wi-Fi profile base64-encoded twice (B02)', { wifiProfile: Buffer.from(WIFI.toString('base64')).toString('base64') }, 'base64-encoded twice'],
    ['a profile without a Wi-Fi payload', { wifiProfile: RESTRICTIONS.toString('base64') }, 'has no Wi-Fi payload (com.apple.wifi.managed)'],
    ['enterprise Wi-Fi without credentials (B03 a)', { wifiProfile: EAP_WITHOUT_CREDENTIALS.toString('base64') }, 'without UserPassword and without an identity certificate'],
    ['bytes that are no profile', { wifiProfile: Buffer.from('hello').toString('base64') }, 'not a readable configuration profile'],
  ])('refuses a configuration with %s, saying why', async (_name, body, message) => {
    const answer = await api('PUT', '/rts-configurations/bad', { ...body, plan: {} });

    expect(answer.status).toBe(422);
    expect(answer.json).toMatchObject({ code: 'CONFIGURATION.INVALID', message: expect.stringContaining(message) });
  });

  it.each([
    ['profile-define-nanodep-example.json', '(Optional) sso.example.com/?redirect=enroll'],
    ['profile-fetch-response-2018.json', undefined],
    ['profile-fetch-response-is_return_to_service.json', undefined],
    ['profile-define-request-is_return_to_service.json', undefined],
  ])('reads the ADE assignment from Apple\'s profile JSON %s', async (file, webUrl) => {
    const ade = JSON.parse(readFileSync(resolve(process.cwd(), '../shared/fixtures/real/ade', file), 'utf8'));
    const saved = await api('PUT', '/rts-configurations/from-ade', { wifiProfile: WIFI.toString('base64'), ade });

    expect(saved.status).toBe(200);
    expect(saved.json.ade).toEqual(webUrl ? { configurationWebUrl: webUrl } : {});
  });

  it('refuses an ADE profile with a mistyped key, naming it', async () => {
    const answer = await api('PUT', '/rts-configurations/bad-ade', { ade: { profile_name: 'x', configuration_web_url: 5 } });

    expect(answer.status).toBe(422);
    expect(answer.json.message).toContain('configuration_web_url');
  });

  it('refuses RTS where Apple has none, or where the OS is too old, and ignores an unreadable version', async () => {
    await enroll('UDID-WATCH', 'E1', { platform: 'watchos' });
    await enroll('UDID-OLD', 'E1', { osVersion: '16.7.10' });
    await enroll('UDID-ODD', 'E1', { osVersion: 'banana', ade: true });
    const answer = await api('POST', '/return-to-service', { devices: ['UDID-WATCH', 'UDID-OLD', 'UDID-ODD'], configuration: 'standard' });

    expect(answer.json.results.map((result: { error?: { code: string } }) => result.error?.code)).toEqual(['DEVICE.RTS_UNSUPPORTED', 'DEVICE.OS_TOO_OLD', undefined]);
  });

  it('refuses a body that is not a JSON object instead of saving an empty configuration', async () => {
    const before = await api('GET', '/rts-configurations/standard');
    const response = await fetch(`${url}/api/v1/rts-configurations/standard`, { method: 'PUT', headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'text/plain' }, body: 'x' });

    expect(response.status).toBe(400);
    expect((await api('PUT', '/rts-configurations/standard', [1, 2])).status).toBe(400);
    expect((await api('GET', '/rts-configurations/standard')).json).toEqual(before.json);
  });

  it.each(['trail ', ' lead', '', 'a/b'])('refuses the configuration name %j', async (name) => {
    expect((await api('POST', '/rts-configurations', { name })).json.code).toBe('CONFIGURATION.INVALID');
  });

  it('shows configurations without their profile bytes', async () => {
    const listed = await api('GET', '/rts-configurations');

    expect(JSON.stringify(listed.json)).not.toContain(WIFI.toString('base64').slice(0, 40));
    expect(listed.json.find((entry: { name: string }) => entry.name === 'standard')).toMatchObject({ plan: { profiles: ['Restrictions'] } });
  });

  function app_timer(): CycleTimerService {
    return app.get(CycleTimerService);
  }
});
