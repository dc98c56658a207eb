import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import forge from 'node-forge';

import {
  CheckEnrollmentPolicy,
  DeviceEnrolled,
  Envelope,
  FetchBootstrapToken,
  PrepareDeviceReturnToService,
  ReturnToServiceAnswered,
} from '@turnaround/contracts';
import type { DataOf, ReplyOf } from '@turnaround/contracts';
import { CertificateAuthority, createCertificateAuthority, DeviceIdentity, RequestSigner } from '@turnaround/identity';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig } from '@turnaround/platform';
import { decodePlist, encodePlistBinary, encodePlistXml, PlistDict, readEnrollmentProfile } from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { CheckinModule } from './checkin.module.js';
import { MachineInfoEnrollmentService } from './feature/machine-info-enrollment.service.js';
import { ReturnToServiceCheckinService } from './feature/return-to-service-checkin.service.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures/real');
const WIFI_PROFILE = readFileSync(join(FIXTURES, 'profile/wifi-return-to-service-hidden-any.mobileconfig'));
const MDM_PROFILE = readFileSync(join(FIXTURES, 'profile/enrollment-scep-mdm-nanomdm.mobileconfig'));
const MACHINE_INFO = decodePlist(readFileSync(join(FIXTURES, 'ade/machineinfo-ios11-ipad.plist'))) as PlistDict;
const TIMEOUT_MS = 300;

interface Answer {
  status: number;
  body: Buffer;
  contentType: string | null;
}

/** How an operator set up Return to Service for one device, as provisioning would keep it. */
interface RtsSetting {
  wifiProfile?: Buffer;
  mdmProfile?: Buffer;
  preserveDataPlan?: boolean;
  preserveApps: boolean;
}

/**
 * Provisioning's side of the two requests and the event, with its rules kept small: RTS is on for
 * the devices it has a setting for (each ask starts a cycle), and a device older than the minimum
 * OS must update before it enrolls.
 */
class ProvisioningDouble {
  readonly settings = new Map<string, RtsSetting>();
  readonly cycles = new Map<string, { udid: string; state: 'requested' | 'erase-acknowledged' | 'failed' }>();
  readonly policyAsked: DataOf<typeof CheckEnrollmentPolicy>[] = [];
  /** Devices below `below` must update; the reply names the target as configured (maybe badly). */
  minimum?: { below: string; osVersion?: string; buildVersion?: string; message?: string };
  slow = false;

  async respond(envelope: Envelope): Promise<unknown> {
    if (this.slow) {
      // Longer than check-in waits for any of its questions, the ReturnToService one included.
      await sleep(TIMEOUT_MS * 10);
    }
    if (envelope.type === PrepareDeviceReturnToService.routingKey) {
      return this.prepare(envelope.data as DataOf<typeof PrepareDeviceReturnToService>);
    }
    const asked = envelope.data as DataOf<typeof CheckEnrollmentPolicy>;
    this.policyAsked.push(asked);

    return this.policy(asked);
  }

  answered(envelope: Envelope): void {
    const data = envelope.data as DataOf<typeof ReturnToServiceAnswered>;
    const cycle = this.cycles.get(data.cycleId ?? '');
    if (cycle) {
      cycle.state = data.enabled ? 'erase-acknowledged' : 'failed';
    }
  }

  private prepare(asked: DataOf<typeof PrepareDeviceReturnToService>): ReplyOf<typeof PrepareDeviceReturnToService> {
    const setting = this.settings.get(asked.udid);
    if (!setting) {
      return { enabled: false, reason: 'no Return to Service configuration for this device' };
    }
    const cycleId = randomUUID();
    this.cycles.set(cycleId, { udid: asked.udid, state: 'requested' });

    return {
      enabled: true,
      cycleId,
      trigger: 'user',
      wifiProfileData: setting.wifiProfile?.toString('base64'),
      mdmProfileData: setting.mdmProfile?.toString('base64'),
      preserveDataPlan: setting.preserveDataPlan,
      attachBootstrapToken: setting.preserveApps,
    };
  }

  private policy(asked: DataOf<typeof CheckEnrollmentPolicy>): ReplyOf<typeof CheckEnrollmentPolicy> {
    if (!this.minimum || !olderThan(asked.osVersion ?? '0', this.minimum.below)) {
      return { action: 'enroll' };
    }
    const { below: _below, ...target } = this.minimum;

    return { action: 'update', ...target };
  }
}

/** Escrow's bootstrap-token reads, each kept with what it was asked. */
class EscrowDouble {
  readonly tokens = new Map<string, Buffer>();
  readonly fetches: Envelope<DataOf<typeof FetchBootstrapToken>>[] = [];
  slow = false;
  /** The stored token does not open (its key left the ring): escrow answers with an error. */
  broken = false;

  async respond(envelope: Envelope): Promise<ReplyOf<typeof FetchBootstrapToken>> {
    this.fetches.push(envelope as Envelope<DataOf<typeof FetchBootstrapToken>>);
    if (this.slow) {
      await sleep(TIMEOUT_MS * 3);
    }
    if (this.broken) {
      throw Object.assign(new Error('the sealed token does not open'), { code: 'ESCROW.SEAL_BROKEN' });
    }
    const token = this.tokens.get((envelope.data as { udid: string }).udid);

    return token ? { token: token.toString('base64') } : {};
  }
}

function olderThan(version: string, minimum: string): boolean {
  const [a, b] = [version, minimum].map((text) => text.split('.').map(Number));
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) {
      return (a[i] ?? 0) < (b[i] ?? 0);
    }
  }

  return false;
}

/** CMS SignedData with the content attached, as a device signs its MachineInfo. */
function signAttached(content: Buffer, signer: DeviceIdentity): Buffer {
  const certificate = forge.pki.certificateFromPem(signer.certificatePem);
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(content.toString('latin1'));
  p7.addCertificate(certificate);
  p7.addSigner({
    key: forge.pki.privateKeyFromPem(signer.privateKeyPem),
    certificate,
    digestAlgorithm: forge.pki.oids.sha256,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
      { type: forge.pki.oids.messageDigest },
      { type: forge.pki.oids.signingTime, value: new Date() as unknown as string },
    ],
  });
  p7.sign();

  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'latin1');
}

function machineInfo(extra: PlistDict = {}): Buffer {
  return encodePlistXml({ ...MACHINE_INFO, UDID: 'UDID-ADE', PRODUCT: 'RealityDevice14,1', VERSION: '23N300', OS_VERSION: '26.0', ...extra });
}

describe('check-in service with provisioning and escrow on the bus', () => {
  const transport = new InProcessTransport({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  const provisioning = new ProvisioningDouble();
  const escrow = new EscrowDouble();
  const answered: Envelope<DataOf<typeof ReturnToServiceAnswered>>[] = [];
  const enrolled = new Map<string, string>();
  let app: INestApplication;
  let url = '';
  let dir = '';
  let authority: CertificateAuthority;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-checkin-rts-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      TURNAROUND_DATA_DIR: dir,
      PORT: String(port),
      TURNAROUND_PUBLIC_URL: url,
      TURNAROUND_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      TURNAROUND_MAX_BODY_BYTES: '65536',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    });
    await transport.serve('provisioning', [PrepareDeviceReturnToService.routingKey, CheckEnrollmentPolicy.routingKey], (envelope) => provisioning.respond(envelope));
    await transport.serve('escrow', [FetchBootstrapToken.routingKey], (envelope) => escrow.respond(envelope));
    await transport.subscribe('provisioning', [ReturnToServiceAnswered.routingKey], async (envelope) => {
      answered.push(envelope as Envelope<DataOf<typeof ReturnToServiceAnswered>>);
      provisioning.answered(envelope);
    });
    await transport.subscribe('observer', [DeviceEnrolled.routingKey], async (envelope) => {
      const data = envelope.data as DataOf<typeof DeviceEnrolled>;
      enrolled.set(data.udid, data.enrollmentId);
    });
    app = await startServices(config, transport, [{ service: 'checkin', module: CheckinModule.register(config, transport) }]);
    authority = CertificateAuthority.fromPem(readFileSync(join(dir, 'ca.crt'), 'utf8'), readFileSync(join(dir, 'ca.key'), 'utf8'));
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    provisioning.slow = false;
    provisioning.minimum = undefined;
    escrow.slow = false;
    jest.restoreAllMocks();
  });

  async function request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${url}${path}`, { method, headers, body });

    return { status: response.status, body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type') };
  }

  async function checkIn(device: RequestSigner, message: PlistDict): Promise<Answer> {
    const body = encodePlistXml(message);

    return request('PUT', '/mdm/checkin', body, { 'Content-Type': 'application/x-apple-aspen-mdm-checkin', 'Mdm-Signature': device.sign(body) });
  }

  /** A Vision Pro enrolled through ADE; without a TokenUpdate it has authenticated only. */
  async function visionPro(udid: string, tokenUpdate = true): Promise<{ device: RequestSigner; enrollmentId?: string }> {
    const device = new RequestSigner(await authority.issueDeviceIdentity({ commonName: udid }));
    expect((await checkIn(device, { MessageType: 'Authenticate', UDID: udid, Topic: 'com.apple.mgmt.test', ProductName: 'RealityDevice14,1', OSVersion: '26.1' })).status).toBe(200);
    if (!tokenUpdate) {
      return { device };
    }
    expect((await checkIn(device, { MessageType: 'TokenUpdate', UDID: udid, Topic: 'com.apple.mgmt.test', Token: Buffer.alloc(32, 3), PushMagic: 'PM', AwaitingConfiguration: false })).status).toBe(200);
    await transport.idle();

    return { device, enrollmentId: enrolled.get(udid) };
  }

  async function returnToService(device: RequestSigner, udid: string): Promise<{ answer: Answer; plist: PlistDict; event?: Envelope<DataOf<typeof ReturnToServiceAnswered>> }> {
    const answer = await checkIn(device, { MessageType: 'ReturnToService', UDID: udid });
    await transport.idle();
    const event = answered.filter((envelope) => envelope.subject === udid).at(-1);

    return { answer, plist: decodePlist(answer.body) as PlistDict, event };
  }

  describe('ReturnToService check-in (B07)', () => {
    it('(a) answers with the prepared profiles and the escrowed token as raw data, and moves the cycle on', async () => {
      const udid = 'UDID-RTS-A';
      const token = Buffer.alloc(32, 0xa7);
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, mdmProfile: MDM_PROFILE, preserveApps: true });
      escrow.tokens.set(udid, token);
      const { device, enrollmentId } = await visionPro(udid);

      const { answer, plist, event } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect(answer.contentType).toBe('application/xml');
      expect(plist).toEqual({
        ReturnToService: {
          Enabled: true,
          WiFiProfileData: new Uint8Array(WIFI_PROFILE),
          MDMProfileData: new Uint8Array(MDM_PROFILE),
          BootstrapToken: new Uint8Array(token),
        },
      });
      const cycleId = event!.data.cycleId!;
      expect(provisioning.cycles.get(cycleId)).toEqual({ udid, state: 'erase-acknowledged' });
      expect(event!.data).toEqual({ udid, enrollmentId, enabled: true, cycleId, bootstrapTokenIncluded: true });
      expect(event!.correlationid).toBe(cycleId);
      const fetch = escrow.fetches.filter((envelope) => envelope.subject === udid).at(-1)!;
      expect(fetch.data).toEqual({ udid, reason: `ReturnToService check-in for cycle ${cycleId}`, requestedBy: 'checkin' });
      expect(fetch.correlationid).toBe(cycleId);
    });

    it('(b) leaves BootstrapToken out when none is escrowed, and says so to provisioning', async () => {
      const udid = 'UDID-RTS-B';
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: true });
      const { device } = await visionPro(udid);

      const { answer, plist, event } = await returnToService(device, udid);

      expect(plist).toEqual({ ReturnToService: { Enabled: true, WiFiProfileData: new Uint8Array(WIFI_PROFILE) } });
      expect(answer.body.toString()).not.toContain('BootstrapToken');
      expect(event!.data).toMatchObject({ enabled: true, bootstrapTokenIncluded: false });
      expect(provisioning.cycles.get(event!.data.cycleId!)!.state).toBe('erase-acknowledged');
    });

    it('(c) answers Enabled false when Return to Service is off for the device', async () => {
      const udid = 'UDID-RTS-C';
      const { device } = await visionPro(udid);

      const { answer, plist, event } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect(plist).toEqual({ ReturnToService: { Enabled: false } });
      expect(event!.data).toEqual({ udid, enrollmentId: expect.any(String), enabled: false, bootstrapTokenIncluded: false });
      expect(escrow.fetches.some((envelope) => envelope.subject === udid)).toBe(false);
    });

    it('puts PreserveDataPlan at the top level beside ReturnToService, never inside it', async () => {
      const udid = 'UDID-RTS-ESIM';
      provisioning.settings.set(udid, { preserveDataPlan: true, preserveApps: false });
      const { device } = await visionPro(udid);

      const { plist } = await returnToService(device, udid);

      expect(plist).toEqual({ ReturnToService: { Enabled: true }, PreserveDataPlan: true });
    });

    it('does not ask escrow when the cycle does not keep apps', async () => {
      const udid = 'UDID-RTS-NO-APPS';
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: false });
      escrow.tokens.set(udid, Buffer.alloc(32, 1));
      const { device } = await visionPro(udid);

      const { plist, event } = await returnToService(device, udid);

      expect(plist).toEqual({ ReturnToService: { Enabled: true, WiFiProfileData: new Uint8Array(WIFI_PROFILE) } });
      expect(escrow.fetches.some((envelope) => envelope.subject === udid)).toBe(false);
      expect(event!.data.bootstrapTokenIncluded).toBe(false);
    });

    it('answers without the token when escrow says the stored one cannot be used, rather than refuse the device for good', async () => {
      const udid = 'UDID-RTS-ESCROW-BROKEN';
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: true });
      escrow.tokens.set(udid, Buffer.alloc(32, 3));
      const { device } = await visionPro(udid);
      escrow.broken = true;

      const { answer, plist, event } = await returnToService(device, udid);
      escrow.broken = false;

      expect(answer.status).toBe(200);
      expect(plist).toEqual({ ReturnToService: { Enabled: true, WiFiProfileData: new Uint8Array(WIFI_PROFILE) } });
      expect(event!.data).toMatchObject({ enabled: true, bootstrapTokenIncluded: false });
    });

    it('answers Enabled false and fails the cycle when escrow does not answer while the token is wanted', async () => {
      const udid = 'UDID-RTS-ESCROW-DOWN';
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: true });
      escrow.tokens.set(udid, Buffer.alloc(32, 2));
      const { device } = await visionPro(udid);
      escrow.slow = true;

      const { answer, plist, event } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect(plist).toEqual({ ReturnToService: { Enabled: false } });
      expect(event!.data).toMatchObject({ enabled: false, bootstrapTokenIncluded: false, cycleId: expect.any(String) });
      expect(event!.correlationid).toBe(event!.data.cycleId);
      expect(provisioning.cycles.get(event!.data.cycleId!)!.state).toBe('failed');
    });

    it('answers Enabled false, not a 5xx or a hang, when provisioning does not answer', async () => {
      const udid = 'UDID-RTS-PROVISIONING-DOWN';
      provisioning.settings.set(udid, { preserveApps: false });
      const { device } = await visionPro(udid);
      provisioning.slow = true;

      const { answer, plist, event } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect(plist).toEqual({ ReturnToService: { Enabled: false } });
      expect(event!.data).toEqual({ udid, enrollmentId: expect.any(String), enabled: false, bootstrapTokenIncluded: false });
    });

    it('answers Enabled false and fails the cycle when a prepared profile is not raw profile bytes (B02)', async () => {
      const udid = 'UDID-RTS-DOUBLE-BASE64';
      provisioning.settings.set(udid, { wifiProfile: Buffer.from(WIFI_PROFILE.toString('base64')), preserveApps: false });
      const { device } = await visionPro(udid);

      const { plist, event } = await returnToService(device, udid);

      expect(plist).toEqual({ ReturnToService: { Enabled: false } });
      expect(provisioning.cycles.get(event!.data.cycleId!)!.state).toBe('failed');
    });

    it('answers with the erase while the broker is down: the answer waits in the outbox and reaches provisioning once it is back', async () => {
      const udid = 'UDID-RTS-BROKER-DOWN';
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: false });
      const { device } = await visionPro(udid);
      const publish = jest.spyOn(transport, 'publish').mockRejectedValueOnce(new Error('broker unreachable'));

      const { answer, plist } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect((plist.ReturnToService as PlistDict).Enabled).toBe(true);
      for (let waited = 0; !answered.some((envelope) => envelope.subject === udid); waited += 50) {
        if (waited > 20_000) {
          throw new Error('the staged answer never reached provisioning');
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const attempts = publish.mock.calls.filter(([envelope]) => envelope.type === ReturnToServiceAnswered.routingKey && envelope.subject === udid);
      expect(attempts).toHaveLength(2);
      expect(answered.filter((envelope) => envelope.subject === udid)).toHaveLength(1);
    });

    it('answers Enabled false without asking provisioning when the device has not finished enrolling', async () => {
      const udid = 'UDID-RTS-AUTH-ONLY';
      provisioning.settings.set(udid, { preserveApps: false });
      const { device } = await visionPro(udid, false);

      const { answer, plist, event } = await returnToService(device, udid);

      expect(answer.status).toBe(200);
      expect(plist).toEqual({ ReturnToService: { Enabled: false } });
      expect(event).toBeUndefined();
      expect([...provisioning.cycles.values()].some((cycle) => cycle.udid === udid)).toBe(false);
    });

    it('logs one line per answer with the ids and never the token or profile bytes', async () => {
      const udid = 'UDID-RTS-LOG';
      const token = Buffer.from('bootstrap-token-that-must-not-be-logged');
      provisioning.settings.set(udid, { wifiProfile: WIFI_PROFILE, preserveApps: true });
      escrow.tokens.set(udid, token);
      const { device } = await visionPro(udid);
      const logger = (app.get(ReturnToServiceCheckinService) as unknown as { logger: Record<'info' | 'warn', (...args: unknown[]) => void> }).logger;
      const lines = [jest.spyOn(logger, 'info'), jest.spyOn(logger, 'warn')];

      const { event } = await returnToService(device, udid);

      const calls = lines.flatMap((spy) => spy.mock.calls);
      expect(calls).toHaveLength(1);
      expect(calls[0][0]).toMatchObject({ udid, cycleId: event!.data.cycleId, enabled: true, tokenIncluded: true });
      const written = JSON.stringify(calls);
      expect(written).not.toContain(token.toString('base64'));
      expect(written).not.toContain(token.toString());
      expect(written).not.toContain(WIFI_PROFILE.toString('base64').slice(0, 40));
    });
  });

  describe('ADE enrollment fetch with MachineInfo (B24, protocol doc §6)', () => {
    let signer: DeviceIdentity;

    beforeAll(async () => {
      // Any device certificate: Apple's device CA chain is not checked, only the signature.
      const apple = new CertificateAuthority(createCertificateAuthority({ commonName: 'Not Apple Device CA' }));
      signer = await apple.issueDeviceIdentity({ commonName: 'device' });
    });

    function post(body: Buffer): Promise<Answer> {
      return request('POST', '/mdm/enroll', body, { 'Content-Type': 'application/pkcs7-signature' });
    }

    function expectProfile(answer: Answer): void {
      expect([answer.status, answer.contentType]).toEqual([200, 'application/x-apple-aspen-config']);
      expect(readEnrollmentProfile(answer.body).checkInUrl).toBe(`${url}/mdm/checkin`);
    }

    it('hands out the profile for the real capture signed as a device sends it (a)', async () => {
      expectProfile(await post(signAttached(encodePlistXml(MACHINE_INFO), signer)));
    });

    it('hands out the profile for base64 of the envelope and for a binary plist inside it (b, d)', async () => {
      expectProfile(await post(Buffer.from(signAttached(machineInfo(), signer).toString('base64'))));
      expectProfile(await post(signAttached(encodePlistBinary(decodePlist(machineInfo())), signer)));
    });

    it('answers 403 software-update-required as Apple specifies when the device may be asked and is too old', async () => {
      provisioning.minimum = { below: '26.4', osVersion: '26.4', buildVersion: '23O100', message: 'This Vision Pro must update before setup can continue.' };
      const before = provisioning.policyAsked.length;

      const answer = await post(signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: true, SUPPLEMENTAL_OS_VERSION_EXTRA: '(a)' }), signer));

      expect(answer.status).toBe(403);
      expect(answer.contentType).toBe('application/json');
      expect(JSON.parse(answer.body.toString())).toEqual({
        code: 'com.apple.softwareupdate.required',
        message: 'This Vision Pro must update before setup can continue.',
        details: { OSVersion: '26.4', BuildVersion: '23O100' },
      });
      expect(provisioning.policyAsked.slice(before)).toEqual([
        { udid: 'UDID-ADE', serialNumber: 'RRZVQ1320865', product: 'RealityDevice14,1', osVersion: '26.0', buildVersion: '23N300', supplementalOsVersionExtra: '(a)' },
      ]);
    });

    it('hands out the profile when the device is new enough', async () => {
      provisioning.minimum = { below: '26.0', osVersion: '26.0' };

      expectProfile(await post(signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: true }), signer)));
    });

    it('never answers 403 to a device that does not say it can be asked, and does not ask provisioning', async () => {
      provisioning.minimum = { below: '99.0', osVersion: '99.0' };
      const before = provisioning.policyAsked.length;

      expectProfile(await post(signAttached(machineInfo(), signer)));
      expectProfile(await post(signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: false }), signer)));
      expect(provisioning.policyAsked.length).toBe(before);
    });

    it('hands out the profile when provisioning does not answer, and logs why', async () => {
      provisioning.minimum = { below: '99.0', osVersion: '99.0' };
      provisioning.slow = true;
      const logger = (app.get(MachineInfoEnrollmentService) as unknown as { logger: Record<'warn', (...args: unknown[]) => void> }).logger;
      const warn = jest.spyOn(logger, 'warn');

      expectProfile(await post(signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: true }), signer)));
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ udid: 'UDID-ADE', reason: expect.stringMatching(/provisioning did not answer/) }), expect.any(String));
    });

    it.each([
      ['no target version', {}, /without a target OS version/],
      ['a target that is not a version', { osVersion: 'latest' }, /unusable update target/],
    ])('hands out the profile when provisioning asks for an update with %s', async (_name, target, reason) => {
      provisioning.minimum = { below: '99.0', ...target };
      const logger = (app.get(MachineInfoEnrollmentService) as unknown as { logger: Record<'warn', (...args: unknown[]) => void> }).logger;
      const warn = jest.spyOn(logger, 'warn');

      expectProfile(await post(signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: true }), signer)));
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ reason: expect.stringMatching(reason) }), expect.any(String));
    });

    it.each([
      ['a bare XML plist (B24 c)', () => encodePlistXml(MACHINE_INFO), 'MACHINE_INFO.UNSIGNED'],
      ['base64 of a bare plist (B24 c)', () => Buffer.from(encodePlistXml(MACHINE_INFO).toString('base64')), 'MACHINE_INFO.UNSIGNED'],
      ['a bare binary plist', () => encodePlistBinary(MACHINE_INFO), 'MACHINE_INFO.UNSIGNED'],
      ['an empty body', () => Buffer.alloc(0), 'MACHINE_INFO.MALFORMED'],
      ['text', () => Buffer.from('hello, enrollment'), 'MACHINE_INFO.MALFORMED'],
      ['a DER SEQUENCE that is not SignedData', () => Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), 'MACHINE_INFO.MALFORMED'],
      ['a truncated envelope', () => signAttached(machineInfo(), signer).subarray(0, 300), 'MACHINE_INFO.MALFORMED'],
      ['signed JSON instead of a plist', () => signAttached(Buffer.from('{"UDID":"x"}'), signer), 'PLIST.MALFORMED'],
      ['a signed plist without UDID', () => signAttached(encodePlistXml({ SERIAL: 'S', PRODUCT: 'iPad4,1', VERSION: '15A5278f' }), signer), 'MACHINE_INFO.MALFORMED'],
      [
        'content changed after signing',
        () => {
          const signed = signAttached(machineInfo({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: true }), signer);
          signed.write('99.9', signed.indexOf('<string>26.0<') + '<string>'.length, 'latin1');

          return signed;
        },
        'MACHINE_INFO.SIGNATURE_INVALID',
      ],
    ])('refuses %s with a 400 naming the problem', async (_name, body, code) => {
      const answer = await post(body());

      expect([answer.status, answer.contentType, answer.body.toString()]).toEqual([400, 'text/plain', code]);
    });

    it('answers an over-size body with 413', async () => {
      expect((await post(Buffer.alloc(70_000, 0x30))).status).toBe(413);
    });

    it('keeps serving the profile to a plain download', async () => {
      expectProfile(await request('GET', '/mdm/enroll'));
    });
  });
});
