import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ADOPTED_ESCROW_KEY_ID, ConfigError, loadConfig } from './config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.problems;
    }
    throw error;
  }

  return [];
}

describe('loadConfig', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-config-'));
  });

  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  function writeRing(content: unknown, name = 'ring.json'): string {
    const file = join(dataDir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));

    return file;
  }

  it('keeps the defaults of the other settings', () => {
    const config = loadConfig({ TURNAROUND_DATA_DIR: dataDir });

    expect(config).toMatchObject({
      dataDir,
      port: 8080,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:8080',
      organization: 'Turnaround',
      requestTimeoutMs: 2000,
      busNamespace: 'turnaround',
      outboxRelay: 'in-process',
    });
    expect(config.apiKey.length).toBeGreaterThanOrEqual(16);
    expect(config.activationLockUnlockUrl).toBeUndefined();
    expect(config.activationLockClientCertPath).toBeUndefined();
    expect(config.activationLockClientKeyPath).toBeUndefined();
  });

  describe('escrow key ring', () => {
    it('generates a ring of one key on first start, readable by the owner only, and keeps it', () => {
      const first = loadConfig({ TURNAROUND_DATA_DIR: dataDir }).escrowKeyRing;
      const file = join(dataDir, 'escrow-keys.json');

      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect([...first.keys.keys()]).toEqual([first.activeKeyId]);
      expect(first.activeKeyId).toMatch(/^key-\d{4}-\d\d-\d\d$/);
      expect(first.keys.get(first.activeKeyId)).toHaveLength(32);
      const again = loadConfig({ TURNAROUND_DATA_DIR: dataDir }).escrowKeyRing;
      expect(again).toEqual(first);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
        active: first.activeKeyId,
        keys: { [first.activeKeyId]: first.keys.get(first.activeKeyId)!.toString('base64') },
      });
    });

    it('adopts the escrow.key of an earlier version as the first key of the ring', () => {
      const legacy = randomBytes(32);
      writeFileSync(join(dataDir, 'escrow.key'), `${legacy.toString('base64')}\n`);

      const ring = loadConfig({ TURNAROUND_DATA_DIR: dataDir }).escrowKeyRing;

      expect(ring.activeKeyId).toBe(ADOPTED_ESCROW_KEY_ID);
      expect(ring.keys).toEqual(new Map([[ADOPTED_ESCROW_KEY_ID, legacy]]));
      expect(existsSync(join(dataDir, 'escrow-keys.json'))).toBe(true);
    });

    it('prefers an existing ring over an escrow.key left beside it', () => {
      const ring = loadConfig({ TURNAROUND_DATA_DIR: dataDir }).escrowKeyRing;
      writeFileSync(join(dataDir, 'escrow.key'), randomBytes(32).toString('base64'));

      expect(loadConfig({ TURNAROUND_DATA_DIR: dataDir }).escrowKeyRing).toEqual(ring);
    });

    it('refuses to adopt an escrow.key that is not 32 bytes, and writes no ring', () => {
      writeFileSync(join(dataDir, 'escrow.key'), randomBytes(16).toString('base64'));

      expect(problemsOf({ TURNAROUND_DATA_DIR: dataDir })).toEqual([
        expect.stringMatching(/escrow\.key must hold 32 bytes, base64-encoded/),
      ]);
      expect(existsSync(join(dataDir, 'escrow-keys.json'))).toBe(false);
    });

    it('reads the ring TURNAROUND_ESCROW_KEY_RING names, with any number of keys', () => {
      const [a, b] = [randomBytes(32), randomBytes(32)];
      const file = writeRing({
        active: 'k-2026.12_b',
        keys: { 'k-2026.12_a': a.toString('base64'), 'k-2026.12_b': b.toString('base64') },
      });

      const ring = loadConfig({
        TURNAROUND_DATA_DIR: dataDir,
        TURNAROUND_ESCROW_KEY_RING: file,
      }).escrowKeyRing;

      expect(ring).toEqual({
        activeKeyId: 'k-2026.12_b',
        keys: new Map([
          ['k-2026.12_a', a],
          ['k-2026.12_b', b],
        ]),
      });
      expect(existsSync(join(dataDir, 'escrow-keys.json'))).toBe(false);
    });

    it('holds a key named __proto__ like any other', () => {
      const key = randomBytes(32);
      const file = writeRing(
        `{"active":"__proto__","keys":{"__proto__":"${key.toString('base64')}"}}`,
      );

      const ring = loadConfig({
        TURNAROUND_DATA_DIR: dataDir,
        TURNAROUND_ESCROW_KEY_RING: file,
      }).escrowKeyRing;

      expect(ring.keys.get('__proto__')).toEqual(key);
    });

    it('does not invent a ring where TURNAROUND_ESCROW_KEY_RING names a missing file', () => {
      const file = join(dataDir, 'typo.json');

      expect(
        problemsOf({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_ESCROW_KEY_RING: file }),
      ).toEqual([`TURNAROUND_ESCROW_KEY_RING names ${file}, which does not exist`]);
      expect(existsSync(file)).toBe(false);
    });

    it('refuses the retired TURNAROUND_ESCROW_KEY rather than strand the tokens under it', () => {
      expect(
        problemsOf({
          TURNAROUND_DATA_DIR: dataDir,
          TURNAROUND_ESCROW_KEY: randomBytes(32).toString('base64'),
        }),
      ).toEqual([
        expect.stringMatching(
          /TURNAROUND_ESCROW_KEY is no longer read.*TURNAROUND_ESCROW_KEY_RING/,
        ),
      ]);
    });

    const good = randomBytes(32).toString('base64');
    it.each<[string, unknown, RegExp[]]>([
      ['text that is not JSON', '{"active": ', [/is not JSON/]],
      ['an array', '[]', [/has no "keys" object/]],
      ['no keys', { active: 'a' }, [/has no "keys" object/]],
      [
        'an empty ring',
        { active: 'a', keys: {} },
        [/holds no keys/, /"active" must name one of its keys/],
      ],
      [
        'an active id it does not hold',
        { active: 'b', keys: { a: good } },
        [/"active" must name one of its keys/],
      ],
      ['no active id', { keys: { a: good } }, [/"active" must name one of its keys/]],
      [
        'a short key',
        { active: 'a', keys: { a: randomBytes(31).toString('base64') } },
        [/key a must be 32 bytes/],
      ],
      [
        'a key that is not base64',
        { active: 'a', keys: { a: `${good.slice(0, 40)}!!!=` } },
        [/key a must be 32 bytes/],
      ],
      ['a key that is not a string', { active: 'a', keys: { a: 7 } }, [/key a must be 32 bytes/]],
      [
        'ids outside [A-Za-z0-9._-]{1,64}',
        { active: 'a', keys: { a: good, 'a b': good, ['x'.repeat(65)]: good, '': good } },
        [/key id "a b" must be/, /key id "x{65}" must be/, /key id "" must be/],
      ],
    ])('reports %s, every problem at once', (_case, content, expected) => {
      const file = writeRing(content);

      const problems = problemsOf({
        TURNAROUND_DATA_DIR: dataDir,
        TURNAROUND_ESCROW_KEY_RING: file,
        TURNAROUND_PUBLIC_URL: 'ftp://nowhere',
      });

      expect(problems).toEqual([
        expect.stringMatching(/TURNAROUND_PUBLIC_URL/),
        ...expected.map((pattern) => expect.stringMatching(pattern)),
      ]);
      expect(problems.join('\n')).not.toContain(good);
    });
  });

  describe('RabbitMQ', () => {
    it('takes amqps:// anywhere and plain amqp:// on this machine', () => {
      for (const url of ['amqps://u:p@rabbitmq.example.com:5671/v', 'amqp://guest:guest@127.0.0.1:5672']) {
        expect(loadConfig({ TURNAROUND_DATA_DIR: dataDir, AMQP_URL: url }).amqpUrl).toBe(url);
      }
    });

    it('refuses plain amqp:// to another host unless told the network is trusted', () => {
      const env = { TURNAROUND_DATA_DIR: dataDir, AMQP_URL: 'amqp://guest:guest@rabbitmq:5672' };

      expect(problemsOf(env)).toEqual([expect.stringMatching(/^AMQP_URL must be amqps:\/\//)]);
      expect(loadConfig({ ...env, TURNAROUND_AMQP_PLAINTEXT: 'allow' }).amqpUrl).toBe(env.AMQP_URL);
    });
  });

  describe('client certificate header of a TLS-terminating proxy', () => {
    it('is off unless named, and kept in lower case like Node reads headers', () => {
      expect(loadConfig({ TURNAROUND_DATA_DIR: dataDir }).clientCertificateHeader).toBeUndefined();
      expect(
        loadConfig({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_CLIENT_CERT_HEADER: 'X-Client-Cert' })
          .clientCertificateHeader,
      ).toBe('x-client-cert');
    });

    it.each(['Mdm-Signature', 'Authorization', 'X Client Cert'])('refuses %s', (name) => {
      expect(
        problemsOf({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_CLIENT_CERT_HEADER: name }),
      ).toEqual([expect.stringMatching(/^TURNAROUND_CLIENT_CERT_HEADER must be/)]);
    });
  });

  describe('Activation Lock unlock', () => {
    it('takes an http(s) unlock URL and leaves it unset without one', () => {
      const url = 'https://deviceservices-external.apple.com/deviceservicesworkers/escrowKeyUnlock';

      expect(
        loadConfig({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: url })
          .activationLockUnlockUrl,
      ).toBe(url);
      expect(
        loadConfig({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: '' })
          .activationLockUnlockUrl,
      ).toBeUndefined();
    });

    it.each(['ftp://example.org/unlock', 'not a url', 'https://'])(
      'refuses the unlock URL %s',
      (url) => {
        expect(
          problemsOf({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: url }),
        ).toEqual([
          expect.stringMatching(/^TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL must be an http\(s\) URL/),
        ]);
      },
    );

    it('refuses plain http to anything but a local fake, since the bypass code travels in the body', () => {
      expect(
        problemsOf({
          TURNAROUND_DATA_DIR: dataDir,
          TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: 'http://unlock.example.test/escrowKeyUnlock',
        }),
      ).toEqual([expect.stringMatching(/must be https unless it points at a loopback address/)]);
      expect(
        loadConfig({
          TURNAROUND_DATA_DIR: dataDir,
          TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL:
            'http://127.0.0.1:9/deviceservicesworkers/escrowKeyUnlock',
        }).activationLockUnlockUrl,
      ).toBe('http://127.0.0.1:9/deviceservicesworkers/escrowKeyUnlock');
    });

    it('takes the client certificate and key as absolute paths', () => {
      writeFileSync(join(dataDir, 'push.pem'), 'certificate');
      writeFileSync(join(dataDir, 'push.key'), 'key');

      const config = loadConfig({
        TURNAROUND_DATA_DIR: dataDir,
        TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: join(dataDir, 'push.pem'),
        TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY: join(dataDir, '.', 'push.key'),
      });

      expect(config.activationLockClientCertPath).toBe(join(dataDir, 'push.pem'));
      expect(config.activationLockClientKeyPath).toBe(join(dataDir, 'push.key'));
    });

    it('wants the certificate and the key together, and both to exist', () => {
      writeFileSync(join(dataDir, 'push.pem'), 'certificate');

      expect(
        problemsOf({
          TURNAROUND_DATA_DIR: dataDir,
          TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: join(dataDir, 'push.pem'),
        }),
      ).toEqual([expect.stringMatching(/go together/)]);
      expect(
        problemsOf({
          TURNAROUND_DATA_DIR: dataDir,
          TURNAROUND_ACTIVATION_LOCK_CLIENT_CERT: join(dataDir, 'push.pem'),
          TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY: join(dataDir, 'missing.key'),
        }),
      ).toEqual([
        `TURNAROUND_ACTIVATION_LOCK_CLIENT_KEY names ${join(dataDir, 'missing.key')}, which does not exist`,
      ]);
    });
  });
});
