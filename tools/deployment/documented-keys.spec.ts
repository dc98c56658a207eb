import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { CertificateAuthority, RequestSigner, SignatureVerifier } from '@turnaround/identity';
import { loadConfig } from '@turnaround/platform';

import { readCompose } from './compose.js';
import { documentedKeyFiles, documentedSecrets, makeDocumentedKeys } from './documented-keys.js';

describe('the keys k8s/README.md tells operators to make', () => {
  let directory = '';

  beforeAll(() => {
    directory = makeDocumentedKeys();
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const read = (file: string): string => readFileSync(join(directory, file), 'utf8');

  it('are made by the documented commands, and are every file Compose reads keys from', () => {
    const { compose } = readCompose();
    const composeFiles = [
      ...Object.values(compose.secrets ?? {}).map((secret) => secret.file ?? ''),
      ...Object.values(compose.services).flatMap((service) => [service.env_file ?? []].flat()),
    ].map((file) => String(file).replace(/^\.\//, ''));

    expect(documentedKeyFiles().filter((file) => !existsSync(join(directory, file)))).toEqual([]);
    expect(new Set(composeFiles)).toEqual(new Set(documentedKeyFiles()));
  });

  it('give a configuration the services accept: the escrow key ring and the API key', () => {
    const apiKey = /^TURNAROUND_API_KEY=(.+)$/m.exec(read('secrets/api-key.env'))?.[1];
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      TURNAROUND_DATA_DIR: join(directory, 'data'),
      TURNAROUND_ESCROW_KEY_RING: join(directory, 'secrets/escrow-keys.json'),
      TURNAROUND_API_KEY: apiKey,
    });

    expect(config.apiKey).toBe(apiKey);
    expect([...config.escrowKeyRing.keys.keys()]).toEqual([config.escrowKeyRing.activeKeyId]);
  });

  it('give a device CA that check-in can issue identities from and commands can verify them with', async () => {
    const authority = CertificateAuthority.fromPem(read('secrets/ca.crt'), read('secrets/ca.key'));
    const identity = await authority.issueDeviceIdentity({ commonName: 'documented-keys-device' });
    const body = Buffer.from('<plist version="1.0"><dict/></plist>');
    const signature = new RequestSigner(identity).sign(body);

    expect(new SignatureVerifier(read('secrets/ca.crt')).verify(signature, body).subject).toBe(
      'documented-keys-device',
    );
  });

  it('become Secrets with the keys the manifests read, and a broker URL over TLS', () => {
    const secrets = documentedSecrets(directory);

    expect(
      Object.fromEntries([...secrets].map(([name, secret]) => [name, [...secret.keys].sort()])),
    ).toEqual({
      'turnaround-amqp': ['url'],
      'turnaround-api-key': ['TURNAROUND_API_KEY'],
      'turnaround-database': ['url'],
      'turnaround-device-ca': ['tls.crt', 'tls.key'],
      'turnaround-escrow-key-ring': ['escrow-keys.json'],
      'turnaround-tls': ['tls.crt', 'tls.key'],
    });
    expect(secrets.get('turnaround-amqp')?.literals.get('url')).toMatch(
      /^amqps:\/\/[^@]+@[^/]+:5671\//,
    );
  });
});
