import { X509Certificate } from 'node:crypto';

import { RequestSigner, SignatureVerifier } from '@turnaround/identity';
import { readEnrollmentProfile, type ScepPayloadSettings } from '@turnaround/protocol';

import { DeviceKeyPool } from './device-keys.js';
import { enrollScepIdentity, type ScepExchange } from './scep-enrollment.js';
import {
  specCaCertificatePem,
  specDeviceKeys,
  specEnrollmentProfile,
  withSpecScep,
} from './testing/spec-enrollment-profile.js';

interface Sent {
  what: string;
  method: string;
  url: URL;
}

let scep: ScepPayloadSettings;

beforeAll(async () => {
  const identity = readEnrollmentProfile(await specEnrollmentProfile()).identity;
  if (!('scep' in identity)) {
    throw new Error('the spec profile has no SCEP payload');
  }
  scep = { ...identity.scep, name: 'Spec CA' };
});

/** The specs' SCEP CA behind an exchange that notes every request; `caps` replaces its answer. */
function recording(caps?: string): { sent: Sent[]; ciphers: string[]; exchange: ScepExchange } {
  const sent: Sent[] = [];
  const ciphers: string[] = [];
  const fetch = withSpecScep(
    () => Promise.resolve(new Response('not found', { status: 404 })),
    (request) => ciphers.push(request.cipher),
  );
  const exchange: ScepExchange = async (request) => {
    const url = new URL(request.url);
    sent.push({ what: request.what, method: request.method, url });
    if (caps !== undefined && url.searchParams.get('operation') === 'GetCACaps') {
      return Buffer.from(caps);
    }
    const init = { method: request.method, ...(request.body ? { body: request.body } : {}) };
    const answer = await fetch(request.url, init);
    if (!answer.ok) {
      throw new Error(`${request.what} answered ${answer.status}`);
    }

    return new Uint8Array(await answer.arrayBuffer());
  };

  return { sent, ciphers, exchange };
}

describe('enrollScepIdentity', () => {
  it('asks for caps and the CA certificate, POSTs a PKCSReq, and signs with what comes back', async () => {
    const { sent, ciphers, exchange } = recording();
    const identity = await enrollScepIdentity(scep, specDeviceKeys, exchange);
    const body = Buffer.from('<plist/>');
    const verified = new SignatureVerifier(specCaCertificatePem()).verify(
      new RequestSigner(identity).sign(body),
      body,
    );

    expect(sent.map((s) => [s.method, s.url.searchParams.get('operation')])).toEqual([
      ['GET', 'GetCACaps'],
      ['GET', 'GetCACert'],
      ['POST', 'PKIOperation'],
    ]);
    // Apple devices pass the payload's Name along with GetCACaps and GetCACert.
    expect(sent[1]?.url.searchParams.get('message')).toBe('Spec CA');
    expect(ciphers).toEqual(['aes-128-cbc']);
    expect(verified.subject).toBe('spec device');
    expect(new X509Certificate(identity.certificatePem).subject).toBe('CN=spec device');
  });

  it('sends the PKCSReq in the URL and with Triple DES to a CA that offers neither POST nor AES', async () => {
    const { sent, ciphers, exchange } = recording('SHA-256\n');
    const identity = await enrollScepIdentity(scep, specDeviceKeys, exchange);
    const operation = sent[2]?.url;

    expect([sent[2]?.method, operation?.searchParams.get('operation')]).toEqual([
      'GET',
      'PKIOperation',
    ]);
    expect(operation?.searchParams.get('message')?.length).toBeGreaterThan(1000);
    expect(ciphers).toEqual(['des-ede3-cbc']);
    expect(identity.certificatePem).toContain('BEGIN CERTIFICATE');
  });

  it('fails when the CA refuses the challenge', async () => {
    const { exchange } = recording();

    await expect(
      enrollScepIdentity({ ...scep, challenge: 'wrong' }, specDeviceKeys, exchange),
    ).rejects.toThrow('the SCEP CA refused the certificate request (failInfo badRequest)');
  });
});

describe('DeviceKeyPool', () => {
  it('hands its keys out in turn and makes a key of another size fresh', async () => {
    const pool = await DeviceKeyPool.create(2, 1024);
    const [a, b, c] = [await pool.take(1024), await pool.take(1024), await pool.take(1024)];
    const other = await pool.take(2048);

    expect(pool.size).toBe(2);
    expect(a).not.toBe(b);
    expect(c).toBe(a);
    expect(other.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses an empty pool', async () => {
    await expect(DeviceKeyPool.create(0)).rejects.toThrow(RangeError);
  });
});
