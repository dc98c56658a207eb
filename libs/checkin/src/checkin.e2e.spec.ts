import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { INestApplication } from '@nestjs/common';

import { Envelope, FetchBootstrapToken, StoreBootstrapToken } from '@turnaround/contracts';
import { CertificateAuthority, RequestSigner } from '@turnaround/identity';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, setLogLevel } from '@turnaround/platform';
import { decodePlist, encodePlistXml, PlistDict, readEnrollmentProfile } from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { CheckinModule } from './checkin.module.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures/real/checkin');

interface Answer {
  status: number;
  body: Buffer;
  contentType: string | null;
}

/** The check-in service as the apps run it, with a fake escrow that keeps tokens in a map. */
describe('check-in service over HTTP', () => {
  const transport = new InProcessTransport({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  const events: Envelope<Record<string, unknown>>[] = [];
  const escrowed = new Map<string, string>();
  let escrowDown = false;
  let app: INestApplication;
  let url = '';
  let publicUrl = '';
  let dir = '';
  let authority: CertificateAuthority;

  beforeAll(async () => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    dir = mkdtempSync(join(tmpdir(), 'turnaround-checkin-'));
    const port = await freeLoopbackPort();
    publicUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', TURNAROUND_DATA_DIR: dir, PORT: String(port), TURNAROUND_PUBLIC_URL: publicUrl, TURNAROUND_REQUEST_TIMEOUT_MS: '300', TURNAROUND_MAX_BODY_BYTES: '65536', TURNAROUND_CLIENT_CERT_HEADER: 'X-Client-Cert' });
    await transport.subscribe('observer', ['checkin.#'], async (envelope) => {
      events.push(envelope as Envelope<Record<string, unknown>>);
    });
    await transport.serve('escrow', [StoreBootstrapToken.routingKey, FetchBootstrapToken.routingKey], async (envelope) => {
      if (escrowDown) {
        await new Promise((done) => setTimeout(done, 1_000));
      }
      const data = envelope.data as { udid: string; token?: string };
      if (envelope.type === FetchBootstrapToken.routingKey) {
        return escrowed.has(data.udid) ? { token: escrowed.get(data.udid) } : {};
      }
      if (data.token) {
        escrowed.set(data.udid, data.token);
      } else {
        escrowed.delete(data.udid);
      }

      return { stored: data.token !== undefined };
    });
    app = await startServices(config, transport, [{ service: 'checkin', module: CheckinModule.register(config, transport) }]);
    url = publicUrl;
    authority = CertificateAuthority.fromPem(readFileSync(join(dir, 'ca.crt'), 'utf8'), readFileSync(join(dir, 'ca.key'), 'utf8'));
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function identity(): Promise<RequestSigner> {
    return new RequestSigner(await authority.issueDeviceIdentity({ commonName: 'test device' }));
  }

  async function send(signer: RequestSigner | null, body: Buffer, path = '/mdm/checkin'): Promise<Answer> {
    const response = await fetch(`${url}${path}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/x-apple-aspen-mdm-checkin', ...(signer ? { 'Mdm-Signature': signer.sign(body) } : {}) },
      body,
    });

    return { status: response.status, body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type') };
  }

  function checkIn(message: PlistDict): Buffer {
    return encodePlistXml(message);
  }

  async function enroll(udid: string, awaitingConfiguration = false, signer?: RequestSigner): Promise<RequestSigner> {
    const device = signer ?? (await identity());
    expect((await send(device, checkIn({ MessageType: 'Authenticate', UDID: udid, Topic: 'com.apple.mgmt.test', ProductName: 'iPhone17,1', OSVersion: '26.1' }))).status).toBe(200);
    const tokenUpdate = { MessageType: 'TokenUpdate', UDID: udid, Topic: 'com.apple.mgmt.test', Token: Buffer.alloc(32, 7), PushMagic: 'PM', AwaitingConfiguration: awaitingConfiguration };
    expect((await send(device, checkIn(tokenUpdate))).status).toBe(200);
    await transport.idle();

    return device;
  }

  function eventsOf(udid: string, type: string): Envelope<Record<string, unknown>>[] {
    return events.filter((event) => event.subject === udid && event.type === type);
  }

  it('serves an enrollment profile with a SCEP identity, bootstrap-token capability and signed messages', async () => {
    const response = await fetch(`${url}/mdm/enroll`);
    const profile = readEnrollmentProfile(Buffer.from(await response.arrayBuffer()));

    expect(response.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(profile.serverUrl).toBe(`${publicUrl}/mdm/server`);
    expect(profile.checkInUrl).toBe(`${publicUrl}/mdm/checkin`);
    expect(profile.signMessage).toBe(true);
    expect(profile.serverCapabilities).toContain('com.apple.mdm.bootstraptoken');
    expect(profile.identity).toMatchObject({ scep: { url: `${publicUrl}/mdm/enroll/scep`, keySize: 2048, keyType: 'RSA', challenge: expect.stringMatching(/^[0-9a-f]{32}$/) } });
  });

  it('answers every real check-in capture as the protocol says', async () => {
    const udids = new Map<string, RequestSigner>();
    const files = readdirSync(FIXTURES).filter((name) => name.endsWith('.plist')).sort((a, b) => order(a) - order(b));
    const expected: Record<string, number> = {};
    for (const file of files) {
      const bytes = readFileSync(join(FIXTURES, file));
      const message = decodePlist(bytes) as PlistDict;
      const udid = String(message.UDID ?? message.EnrollmentID);
      const signer = udids.get(udid) ?? (await identity());
      udids.set(udid, signer);
      if (message.MessageType !== 'Authenticate' && !files.some((other) => other.startsWith('authenticate') && String((decodePlist(readFileSync(join(FIXTURES, other))) as PlistDict).UDID) === udid)) {
        await send(signer, checkIn({ MessageType: 'Authenticate', UDID: udid, Topic: String(message.Topic ?? 'com.apple.mgmt.test') }));
      }
      const answer = await send(signer, bytes);
      expected[file] = answer.status;
    }
    await transport.idle();

    expect(expected).toEqual({
      'authenticate-ios18-account-driven-user-enrollment.plist': 200,
      'authenticate-ios9-ipad-40hex-udid.plist': 200,
      'authenticate-macos10.12-imac.plist': 200,
      'authenticate-macos10.13-mbp.plist': 200,
      'tokenupdate-ios9-with-unlocktoken.plist': 200,
      'tokenupdate-macos-2023-nanocmd.plist': 200,
      'tokenupdate-macos10.12.plist': 200,
      'tokenupdate-macos10.12-user-channel.plist': 200,
      'declarativemanagement-status-ios-jamf-school.plist': 200,
      'checkout-macos10.13.plist': 200,
      'userauthenticate-initial-apple-doc.plist': 410,
    });
    const ipad = String((decodePlist(readFileSync(join(FIXTURES, 'tokenupdate-ios9-with-unlocktoken.plist'))) as PlistDict).UDID);
    expect(eventsOf(ipad, 'checkin.device.enrolled.v1')).toHaveLength(1);
    const userEnrollment = decodePlist(readFileSync(join(FIXTURES, 'authenticate-ios18-account-driven-user-enrollment.plist'))) as PlistDict;
    expect(eventsOf(String(userEnrollment.EnrollmentID), 'checkin.device.authenticated.v1')).toHaveLength(1);
  });

  it('treats AwaitingConfiguration true as a fresh enrollment and a renewal as the same one (B05, B06)', async () => {
    const udid = 'UDID-B06';
    await enroll(udid);
    const first = eventsOf(udid, 'checkin.device.enrolled.v1').at(-1)!.data;
    await enroll(udid, false);
    const renewal = eventsOf(udid, 'checkin.device.enrolled.v1').at(-1)!.data;
    await enroll(udid, true);
    const fresh = eventsOf(udid, 'checkin.device.enrolled.v1').at(-1)!.data;

    expect(renewal).toMatchObject({ fresh: false, enrollmentId: first.enrollmentId });
    expect(fresh).toMatchObject({ fresh: true, previousEnrollmentId: first.enrollmentId, awaitingConfiguration: true });
    expect(fresh.enrollmentId).not.toBe(first.enrollmentId);
    expect(eventsOf(udid, 'checkin.device.awaiting-configuration.v1').map((event) => event.data.enrollmentId)).toEqual([fresh.enrollmentId]);
  });

  it('treats a re-enrollment in Setup Assistant as fresh even with the certificate it had before (B06)', async () => {
    const udid = 'UDID-B06-SAME';
    const device = await enroll(udid);
    const first = eventsOf(udid, 'checkin.device.enrolled.v1').at(-1)!.data;
    await enroll(udid, true, device);
    const again = eventsOf(udid, 'checkin.device.enrolled.v1').at(-1)!.data;

    expect(again).toMatchObject({ fresh: true, previousEnrollmentId: first.enrollmentId, awaitingConfiguration: true });
    expect(eventsOf(udid, 'checkin.device.awaiting-configuration.v1')).toHaveLength(1);
  });

  it('keeps Shared iPad users apart by short name and refuses a user message without one (B22 a)', async () => {
    const udid = 'UDID-SHARED-IPAD';
    const device = await enroll(udid);
    const user = (shortName?: string) =>
      checkIn({ MessageType: 'TokenUpdate', UDID: udid, UserID: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', ...(shortName ? { UserShortName: shortName } : {}), Topic: 'com.apple.mgmt.test', Token: Buffer.alloc(32, 1), PushMagic: 'PM' });

    expect((await send(device, user('student1@example.edu'))).status).toBe(200);
    expect((await send(device, user('student2@example.edu'))).status).toBe(200);
    expect((await send(device, user())).status).toBe(400);
    // A user channel of a device whose identity never authenticated is refused like the device's.
    const stranger = await identity();
    expect((await send(stranger, user('student3@example.edu'))).status).toBeGreaterThanOrEqual(400);
    // The device channel is untouched by its users.
    expect(eventsOf(udid, 'checkin.device.enrolled.v1')).toHaveLength(1);
  });

  it('stores, returns and deletes the bootstrap token through escrow (B09, B10)', async () => {
    const udid = 'UDID-B09';
    const device = await enroll(udid, true);
    const token = Buffer.alloc(32, 9);
    const get = checkIn({ MessageType: 'GetBootstrapToken', UDID: udid, AwaitingConfiguration: false });

    expect((await send(device, get)).body).toEqual(encodePlistXml({}));
    expect((await send(device, checkIn({ MessageType: 'SetBootstrapToken', UDID: udid, BootstrapToken: token, AwaitingConfiguration: true }))).status).toBe(200);
    expect(decodePlist((await send(device, get)).body)).toEqual({ BootstrapToken: new Uint8Array(token) });
    expect((await send(device, Buffer.from(encodePlistXml({ MessageType: 'SetBootstrapToken', UDID: udid }).toString().replace('</dict>', '<key>BootstrapToken</key><data/></dict>')))).status).toBe(200);
    expect(decodePlist((await send(device, get)).body)).toEqual({});
  });

  it('answers GetBootstrapToken without a token when escrow does not answer in time', async () => {
    const udid = 'UDID-ESCROW-DOWN';
    const device = await enroll(udid);
    escrowDown = true;
    try {
      const answer = await send(device, checkIn({ MessageType: 'GetBootstrapToken', UDID: udid, AwaitingConfiguration: false }));

      expect(answer.status).toBe(200);
      expect(decodePlist(answer.body)).toEqual({});
    } finally {
      escrowDown = false;
    }
  });

  it('refuses unsigned, foreign and mismatched requests with 400, never 401', async () => {
    const udid = 'UDID-IDENTITY';
    const device = await enroll(udid);
    const stranger = await identity();
    const body = checkIn({ MessageType: 'TokenUpdate', UDID: udid, Topic: 't', Token: Buffer.alloc(32), PushMagic: 'x' });

    expect((await send(null, body)).status).toBe(400);
    expect((await send(stranger, body)).status).toBe(400);
    expect((await send(device, checkIn({ MessageType: 'Authenticate', UDID: 'UDID-OTHER', Topic: 't' }))).status).toBe(400);
    const foreign = new CertificateAuthority((await import('@turnaround/identity')).createCertificateAuthority({ commonName: 'Turnaround Device CA' }));
    expect((await send(new RequestSigner(await foreign.issueDeviceIdentity({ commonName: 'x' })), body)).status).toBe(400);
  });

  it('knows a device by the client certificate a TLS-terminating proxy forwarded', async () => {
    const udid = 'UDID-BEHIND-PROXY';
    const device = await authority.issueDeviceIdentity({ commonName: 'proxied device' });
    const foreign = await new CertificateAuthority((await import('@turnaround/identity')).createCertificateAuthority({ commonName: 'Turnaround Device CA' })).issueDeviceIdentity({ commonName: 'x' });
    const forwarded = async (certificatePem: string, body: Buffer, signer?: RequestSigner) =>
      (
        await fetch(`${url}/mdm/checkin`, {
          method: 'PUT',
          // nginx's $ssl_client_escaped_cert: the PEM, URL-encoded.
          headers: { 'X-Client-Cert': encodeURIComponent(certificatePem), ...(signer ? { 'Mdm-Signature': signer.sign(body) } : {}) },
          body,
        })
      ).status;

    expect(await forwarded(device.certificatePem, checkIn({ MessageType: 'Authenticate', UDID: udid, Topic: 'com.apple.mgmt.test' }))).toBe(200);
    const tokenUpdate = checkIn({ MessageType: 'TokenUpdate', UDID: udid, Topic: 'com.apple.mgmt.test', Token: Buffer.alloc(32, 7), PushMagic: 'PM' });
    expect(await forwarded(device.certificatePem, tokenUpdate)).toBe(200);
    await transport.idle();
    expect(eventsOf(udid, 'checkin.device.enrolled.v1').map((event) => event.data['certificateFingerprint'])).toEqual([device.fingerprint]);
    // A certificate of another CA, or a signature by another device than the forwarded one.
    expect(await forwarded(foreign.certificatePem, tokenUpdate)).toBe(400);
    expect(await forwarded(device.certificatePem, tokenUpdate, await identity())).toBe(400);
  });

  it.each([
    ['an unknown MessageType', () => checkIn({ MessageType: 'Reboot', UDID: 'U' })],
    ['a body that is not a plist', () => Buffer.from('hello')],
    ['a plist that is not a dictionary', () => encodePlistXml(['Authenticate'])],
    ['a check-in without an identifier (B22 c)', () => checkIn({ MessageType: 'Authenticate', Topic: 't' })],
    ['an entity expansion', () => Buffer.from('<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x "y">]><plist><dict><key>MessageType</key><string>&x;</string></dict></plist>')],
  ])('answers %s with a logged 400', async (_name, body) => {
    expect((await send(await identity(), body())).status).toBe(400);
  });

  it('answers an over-size body with 413', async () => {
    expect((await send(await identity(), Buffer.alloc(70_000, 0x20))).status).toBe(413);
  });

  it('accepts every real declarative status report, and refuses one that is not JSON', async () => {
    const udid = 'UDID-DDM-STATUS';
    const device = await enroll(udid);
    const folder = resolve(FIXTURES, '../ddm');
    for (const file of readdirSync(folder)) {
      const status = checkIn({ MessageType: 'DeclarativeManagement', UDID: udid, Endpoint: 'status', Data: readFileSync(join(folder, file)) });
      const answer = await send(device, status);

      expect([file, answer.status, answer.body.length]).toEqual([file, 200, 0]);
    }
    const garbage = checkIn({ MessageType: 'DeclarativeManagement', UDID: udid, Endpoint: 'status', Data: Buffer.from('{not json') });
    expect((await send(device, garbage)).status).toBe(400);
  });

  it('answers DeclarativeManagement with empty declarations and 404 for unknown ones', async () => {
    const udid = 'UDID-DDM';
    const device = await enroll(udid);
    const tokens = await send(device, checkIn({ MessageType: 'DeclarativeManagement', UDID: udid, Endpoint: 'tokens' }));
    const items = await send(device, checkIn({ MessageType: 'DeclarativeManagement', UDID: udid, Endpoint: 'declaration-items' }));
    const unknown = await send(device, checkIn({ MessageType: 'DeclarativeManagement', UDID: udid, Endpoint: 'declaration/configuration/x' }));

    expect(JSON.parse(tokens.body.toString())).toHaveProperty('SyncTokens.DeclarationsToken');
    expect(JSON.parse(items.body.toString())).toMatchObject({ Declarations: { Activations: [], Assets: [], Configurations: [], Management: [] } });
    expect(unknown.status).toBe(404);
  });
});

/** Authenticate before TokenUpdate before the rest, as a device sends them. */
function order(file: string): number {
  return ['authenticate', 'tokenupdate', 'declarativemanagement', 'userauthenticate', 'checkout'].findIndex((prefix) => file.startsWith(prefix));
}
