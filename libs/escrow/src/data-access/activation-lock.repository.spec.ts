import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from '@turnaround/platform';
import { freeLoopbackPort } from '@turnaround/testing';

import { UnlockCredentialsError } from '../domain/escrow.errors.js';
import {
  FakeAnswer,
  startFakeUnlockEndpoint,
  UnlockCall,
} from '../testing/fake-unlock-endpoint.js';
import { ActivationLockRepository, UnlockEndpoint } from './activation-lock.repository.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const withOpenssl = HAS_OPENSSL ? it : it.skip;

const query = new URLSearchParams({ serial: 'DMQXK2ABCDEF', productType: 'iPad13,18' });
const form = new URLSearchParams({ orgName: 'Acme', guid: 'commands', escrowKey: 'KV0F-4M7P' });

/** A self-signed P-256 certificate for 127.0.0.1, with its key, as PEM files. */
function selfSigned(dir: string, name: string): { certPath: string; keyPath: string } {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  if (made.status !== 0) {
    throw new Error(`openssl failed: ${made.stderr.toString()}`);
  }

  return { certPath, keyPath };
}

describe('ActivationLockRepository', () => {
  const stops: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });

  async function endpoint(
    answer: (call: UnlockCall) => FakeAnswer,
    tls?: { cert: Buffer; key: Buffer },
  ) {
    const fake = await startFakeUnlockEndpoint(answer, tls);
    stops.push(fake.close);

    return fake;
  }

  function repositoryFor(options: UnlockEndpoint): ActivationLockRepository {
    const repository = new ActivationLockRepository(options);
    stops.push(async () => repository.onModuleDestroy());

    return repository;
  }

  it('POSTs the device in the query and the form as application/x-www-form-urlencoded', async () => {
    const fake = await endpoint(() => ({ status: 200, text: 'ok' }));
    const repository = repositoryFor({ url: new URL(`${fake.url}?tenant=7`), timeoutMs: 2000 });

    await expect(repository.escrowKeyUnlock(query, form)).resolves.toEqual({
      kind: 'answered',
      status: 200,
      text: 'ok',
    });
    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(call).toMatchObject({
      method: 'POST',
      path: '/deviceservicesworkers/escrowKeyUnlock',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(Object.fromEntries(call!.query)).toEqual({
      tenant: '7',
      serial: 'DMQXK2ABCDEF',
      productType: 'iPad13,18',
    });
    expect(Object.fromEntries(call!.form)).toEqual({
      orgName: 'Acme',
      guid: 'commands',
      escrowKey: 'KV0F-4M7P',
    });
  });

  it('keeps only the first 4 KiB of a long answer', async () => {
    const fake = await endpoint(() => ({ status: 403, text: 'z'.repeat(100_000) }));
    const repository = repositoryFor({ url: new URL(fake.url), timeoutMs: 2000 });

    const answer = await repository.escrowKeyUnlock(query, form);

    expect(answer).toMatchObject({ kind: 'answered', status: 403 });
    expect((answer as { text: string }).text).toHaveLength(4096);
  });

  it('gives up after its timeout on an endpoint that never answers', async () => {
    const fake = await endpoint(() => 'hang');
    const repository = repositoryFor({ url: new URL(fake.url), timeoutMs: 200 });

    await expect(repository.escrowKeyUnlock(query, form)).resolves.toEqual({
      kind: 'timed-out',
      afterMs: 200,
    });
  });

  it('reports an endpoint nobody listens on as unreachable', async () => {
    const port = await freeLoopbackPort();
    const repository = repositoryFor({
      url: new URL(`http://127.0.0.1:${port}/unlock`),
      timeoutMs: 2000,
    });

    await expect(repository.escrowKeyUnlock(query, form)).resolves.toEqual({
      kind: 'unreachable',
      reason: 'ECONNREFUSED',
    });
  });

  it('is not configured without a URL', () => {
    expect(new ActivationLockRepository(null).configured).toBe(false);
  });

  describe('over TLS', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'turnaround-unlock-'));
    });

    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    withOpenssl(
      'presents the configured client certificate (the MDM push certificate)',
      async () => {
        const server = selfSigned(dir, 'server');
        const client = selfSigned(dir, 'client');
        const serverCert = readFileSync(server.certPath);
        const fake = await endpoint(() => ({ status: 200 }), {
          cert: serverCert,
          key: readFileSync(server.keyPath),
        });
        const configured = ActivationLockRepository.endpointOf(
          loadConfig({
            TURNAROUND_DATA_DIR: dir,
            TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: fake.url,
            TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: client.certPath,
            TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY: client.keyPath,
          }),
        )!;
        const repository = repositoryFor({ ...configured, ca: serverCert });

        await expect(repository.escrowKeyUnlock(query, form)).resolves.toMatchObject({
          status: 200,
        });
        expect(fake.calls[0]?.clientCertificate).toBe(
          new X509Certificate(readFileSync(client.certPath)).fingerprint256,
        );
      },
    );

    withOpenssl('refuses at boot a key that does not belong to the certificate', () => {
      const one = selfSigned(dir, 'one');
      const other = selfSigned(dir, 'other');
      const config = loadConfig({
        TURNAROUND_DATA_DIR: dir,
        TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: 'https://127.0.0.1:9/unlock',
        TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: one.certPath,
        TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY: other.keyPath,
      });

      expect(() => ActivationLockRepository.endpointOf(config)).toThrow(UnlockCredentialsError);
    });

    it('refuses at boot a certificate file that is not PEM', () => {
      const junk = join(dir, 'junk.pem');
      writeFileSync(junk, 'not a certificate');
      const config = loadConfig({
        TURNAROUND_DATA_DIR: dir,
        TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: 'https://127.0.0.1:9/unlock',
        TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: junk,
        TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY: junk,
      });

      expect(() => ActivationLockRepository.endpointOf(config)).toThrow(
        /Activation Lock client certificate .* cannot be used/,
      );
    });
  });
});
