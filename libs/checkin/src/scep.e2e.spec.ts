import { createHash, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

import { DeviceEnrolled, Envelope } from '@turnaround/contracts';
import {
  buildPkcsReq,
  CertRep,
  encodeName,
  PkcsReqMessage,
  readCertRep,
  RequestSigner,
} from '@turnaround/identity';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, redirectLogs, setLogLevel } from '@turnaround/platform';
import {
  encodePlistXml,
  PlistDict,
  readEnrollmentProfile,
  ScepPayloadSettings,
} from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { CheckinModule } from './checkin.module.js';
import { ScepChallengeEntity } from './data-access/checkin.entities.js';

interface Answer {
  status: number;
  body: Buffer;
  contentType: string | null;
}

const newKey = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** SCEP as a device meets it: the profile's payload, then GetCACaps, GetCACert and PKIOperation. */
describe('SCEP enrollment against the check-in service', () => {
  const transport = new InProcessTransport({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  const events: Envelope<Record<string, unknown>>[] = [];
  const logLines: string[] = [];
  let restoreLogs: () => void;
  let app: INestApplication;
  let url = '';
  let dir = '';
  let caCertificate: Buffer;

  beforeAll(async () => {
    setLogLevel('info');
    restoreLogs = redirectLogs({ write: (line) => void logLines.push(line) });
    dir = mkdtempSync(join(tmpdir(), 'turnaround-scep-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      LOG_LEVEL: 'info',
      TURNAROUND_DATA_DIR: dir,
      PORT: String(port),
      TURNAROUND_PUBLIC_URL: url,
      TURNAROUND_MAX_BODY_BYTES: '65536',
    });
    await transport.subscribe('observer', ['checkin.#'], async (envelope) => {
      events.push(envelope as Envelope<Record<string, unknown>>);
    });
    app = await startServices(config, transport, [
      { service: 'checkin', module: CheckinModule.register(config, transport) },
    ]);
    caCertificate = new X509Certificate(readFileSync(join(dir, 'ca.crt'))).raw;
  });

  afterAll(async () => {
    await app.close();
    restoreLogs();
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    rmSync(dir, { recursive: true, force: true });
  });

  async function scepPayload(): Promise<ScepPayloadSettings> {
    const identity = readEnrollmentProfile(
      Buffer.from(await (await fetch(`${url}/mdm/enroll`)).arrayBuffer()),
    ).identity;
    if (!('scep' in identity)) {
      throw new Error('the enrollment profile has no SCEP payload');
    }

    return identity.scep;
  }

  async function request(method: 'GET' | 'POST', query: string, body?: Buffer): Promise<Answer> {
    const response = await fetch(`${url}/mdm/enroll/scep?${query}`, {
      method,
      ...(body ? { body, headers: { 'Content-Type': 'application/x-pki-message' } } : {}),
    });

    return {
      status: response.status,
      body: Buffer.from(await response.arrayBuffer()),
      contentType: response.headers.get('content-type'),
    };
  }

  function pkcsReq(
    payload: ScepPayloadSettings,
    key: KeyObject,
    challenge = payload.challenge,
  ): PkcsReqMessage {
    return buildPkcsReq({
      key,
      caCertificate,
      subject: encodeName(payload.subject),
      ...(challenge === undefined ? {} : { challenge }),
    });
  }

  async function exchange(sent: PkcsReqMessage, key: KeyObject): Promise<CertRep> {
    const answer = await request('POST', 'operation=PKIOperation', sent.message);
    expect([answer.status, answer.contentType]).toEqual([200, 'application/x-pki-message']);

    return readCertRep(answer.body, sent, { key, caCertificate });
  }

  it('tells its capabilities and serves its CA certificate as DER', async () => {
    const caps = await request('GET', 'operation=GetCACaps');
    const cert = await request('GET', 'operation=GetCACert&message=Turnaround%20Device%20CA');

    expect([caps.status, caps.contentType, caps.body.toString().split('\n')]).toEqual([
      200,
      'text/plain',
      ['POSTPKIOperation', 'SHA-256', 'AES', 'SCEPStandard', ''],
    ]);
    expect([cert.status, cert.contentType, cert.body.equals(caCertificate)]).toEqual([
      200,
      'application/x-x509-ca-cert',
      true,
    ]);
  });

  it('puts a SCEP payload in the profile that the MDM payload names, with a challenge of its own', async () => {
    const [first, second] = [await scepPayload(), await scepPayload()];

    expect(first).toMatchObject({
      url: `${url}/mdm/enroll/scep`,
      keySize: 2048,
      keyType: 'RSA',
      keyUsage: 5,
      name: 'Turnaround Device CA',
    });
    expect(first.subject).toEqual([
      [['CN', expect.stringMatching(/^Turnaround device identity [0-9a-f-]{36}$/)]],
    ]);
    expect(first.challenge).not.toBe(second.challenge);
  });

  it('issues a certificate for the device key that Authenticate and TokenUpdate accept', async () => {
    const payload = await scepPayload();
    const key = newKey();
    const reply = await exchange(pkcsReq(payload, key), key);
    if (reply.status !== 'SUCCESS') {
      throw new Error(`SCEP answered ${reply.status}`);
    }
    const certificate = new X509Certificate(reply.certificate);
    const signer = new RequestSigner({
      certificatePem: certificate.toString(),
      privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const udid = 'UDID-SCEP-1';
    const checkIn = async (message: PlistDict) => {
      const body = encodePlistXml({ UDID: udid, Topic: 'com.apple.mgmt.test', ...message });

      return (
        await fetch(`${url}/mdm/checkin`, {
          method: 'PUT',
          headers: { 'Mdm-Signature': signer.sign(body) },
          body,
        })
      ).status;
    };

    expect(certificate.subject).toBe(`CN=${payload.subject[0]![0]![1]}`);
    expect(certificate.checkIssued(new X509Certificate(caCertificate))).toBe(true);
    expect(await checkIn({ MessageType: 'Authenticate' })).toBe(200);
    expect(
      await checkIn({ MessageType: 'TokenUpdate', Token: Buffer.alloc(32, 1), PushMagic: 'PM' }),
    ).toBe(200);
    await transport.idle();
    const enrolled = events.filter(
      (event) => event.subject === udid && event.type === DeviceEnrolled.routingKey,
    );
    expect(enrolled.map((event) => event.data['certificateFingerprint'])).toEqual([
      createHash('sha256').update(reply.certificate).digest('hex'),
    ]);
  });

  it('answers the same PKCSReq sent again with the same certificate, also over GET', async () => {
    const payload = await scepPayload();
    const key = newKey();
    const sent = pkcsReq(payload, key);
    const first = await exchange(sent, key);
    const again = await request(
      'GET',
      `operation=PKIOperation&message=${encodeURIComponent(sent.message.toString('base64'))}`,
    );

    expect(first.status).toBe('SUCCESS');
    expect(readCertRep(again.body, sent, { key, caCertificate })).toEqual(first);
  });

  it('refuses a used challenge for another request, and unknown or expired challenges: FAILURE badRequest', async () => {
    const used = await scepPayload();
    const key = newKey();
    expect((await exchange(pkcsReq(used, key), key)).status).toBe('SUCCESS');
    const expired = await scepPayload();
    const hash = createHash('sha256').update(expired.challenge!).digest('hex');
    await app
      .get<DataSource>(getDataSourceToken('checkin'))
      .getRepository(ScepChallengeEntity)
      .update({ challengeHash: hash }, { expiresAt: new Date(Date.now() - 1_000) });
    const other = newKey();

    expect(await exchange(pkcsReq(used, other), other)).toEqual({
      status: 'FAILURE',
      failInfo: 'badRequest',
    });
    expect(await exchange(pkcsReq(expired, other), other)).toEqual({
      status: 'FAILURE',
      failInfo: 'badRequest',
    });
    expect(await exchange(pkcsReq(used, other, 'not-a-challenge'), other)).toEqual({
      status: 'FAILURE',
      failInfo: 'badRequest',
    });
    expect(await exchange(pkcsReq(used, other, undefined), other)).toEqual({
      status: 'FAILURE',
      failInfo: 'badRequest',
    });
  });

  it.each([
    [
      'an operation it does not offer',
      'GET',
      'operation=GetCRL',
      undefined,
      400,
      'ENROLLMENT.SCEP_OPERATION_UNSUPPORTED',
    ],
    ['no operation at all', 'GET', '', undefined, 400, 'ENROLLMENT.SCEP_OPERATION_UNSUPPORTED'],
    [
      'GET PKIOperation without a message',
      'GET',
      'operation=PKIOperation',
      undefined,
      400,
      'ENROLLMENT.SCEP_MESSAGE_UNREADABLE',
    ],
    [
      'GET PKIOperation with a message that is not base64',
      'GET',
      'operation=PKIOperation&message=%3C%3E',
      undefined,
      400,
      'ENROLLMENT.SCEP_MESSAGE_UNREADABLE',
    ],
    [
      'POST PKIOperation with no body',
      'POST',
      'operation=PKIOperation',
      Buffer.alloc(0),
      400,
      'ENROLLMENT.SCEP_MESSAGE_UNREADABLE',
    ],
    [
      'a body that is no CMS',
      'POST',
      'operation=PKIOperation',
      Buffer.from('hello'),
      400,
      'IDENTITY.SCEP_MESSAGE_INVALID',
    ],
    [
      'a truncated SignedData',
      'POST',
      'operation=PKIOperation',
      Buffer.from('3082ffff06092a864886f70d010702', 'hex'),
      400,
      'IDENTITY.SCEP_MESSAGE_INVALID',
    ],
    [
      'a body over the size limit',
      'POST',
      'operation=PKIOperation',
      Buffer.alloc(70_000, 0x30),
      413,
      undefined,
    ],
  ] as const)(
    'answers %s with a clear status',
    async (_name, method, query, body, status, code) => {
      const answer = await request(method, query, body);

      expect(answer.status).toBe(status);
      if (code !== undefined) {
        expect(answer.body.toString()).toBe(code);
      }
    },
  );

  it('never writes a challenge to the log', async () => {
    const payload = await scepPayload();
    const key = newKey();
    const other = newKey();
    await exchange(pkcsReq(payload, key), key);
    await exchange(pkcsReq(payload, other), other);

    expect(logLines.some((line) => line.includes('scep certificate issued'))).toBe(true);
    expect(logLines.some((line) => line.includes('scep request refused'))).toBe(true);
    expect(logLines.filter((line) => line.includes(payload.challenge!))).toEqual([]);
  });
});
