import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { DataSource } from 'typeorm';

import {
  ClearActivationLock,
  createEnvelope,
  DataOf,
  DescribeBootstrapToken,
  DeviceAuthenticated,
  DeviceEnrolled,
  Envelope,
  FetchBootstrapToken,
  RewrapEscrowKeys,
  StoreActivationLockBypassCode,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import { BusServer, InProcessTransport } from '@turnaround/messaging';
import { loadConfig, rootLogger, TurnaroundConfig } from '@turnaround/platform';
import { freeLoopbackPort } from '@turnaround/testing';

import { EscrowRepository } from './data-access/escrow.repository.js';
import { SecretSealer } from './domain/secret-sealing.js';
import { EscrowKeyError, EscrowModule, EscrowStatusService } from './index.js';
import {
  FakeAnswer,
  FakeUnlockEndpoint,
  startFakeUnlockEndpoint,
} from './testing/fake-unlock-endpoint.js';
import { legacySeal } from './testing/legacy-seal.js';

interface Running {
  app: INestApplication;
  transport: InProcessTransport;
  events: Envelope[];
}

/** What the service boots with: its key ring and any further environment. */
interface Settings {
  ring: { active: string; keys: Record<string, Buffer> };
  env?: Record<string, string>;
}

const udidOf = (n: number): string => `00008110-${String(n).padStart(16, '0')}`;
const newToken = (): Buffer => randomBytes(32);
const b64 = (bytes: Buffer): string => bytes.toString('base64');
/** A bypass code in Apple's dashed human-readable form, random for every test. */
const newCode = (): string =>
  Array.from({ length: 5 }, () => randomBytes(4).toString('hex').slice(0, 5).toUpperCase()).join(
    '-',
  );
const ringOf = (active: string, keys: Record<string, Buffer>): Settings['ring'] => ({
  active,
  keys,
});

let keysDir: string;

/** The tables of the single-key version, as its synchronize created them. */
const PREVIOUS_SCHEMA = `
  CREATE TABLE "bootstrap_token_versions" ("id" varchar(36) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "version" integer NOT NULL, "iv" text, "ciphertext" text, "authTag" text, "fingerprint" text, "escrowedAt" datetime NOT NULL, "retiredAt" datetime, "retiredBecause" varchar(16));
  CREATE UNIQUE INDEX "bootstrap_token_versions_in_force" ON "bootstrap_token_versions" ("udid") WHERE "retiredAt" IS NULL;
  CREATE UNIQUE INDEX "bootstrap_token_versions_udid_version" ON "bootstrap_token_versions" ("udid", "version");
  CREATE TABLE "escrow_audit" ("id" varchar(36) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "action" varchar(16) NOT NULL, "version" integer, "found" boolean NOT NULL, "requestedBy" varchar(255) NOT NULL, "reason" varchar(255) NOT NULL, "source" varchar(32) NOT NULL, "messageId" varchar(64) NOT NULL, "correlationId" varchar(64), "at" datetime NOT NULL);
  CREATE INDEX "escrow_audit_udid_at" ON "escrow_audit" ("udid", "at");
`;

function configFor(dataDir: string, settings: Settings): TurnaroundConfig {
  const ringFile = join(keysDir, `ring-${randomBytes(4).toString('hex')}.json`);
  const keys = Object.fromEntries(
    Object.entries(settings.ring.keys).map(([id, key]) => [id, b64(key)]),
  );
  writeFileSync(ringFile, JSON.stringify({ active: settings.ring.active, keys }), { mode: 0o600 });

  return loadConfig({
    TURNAROUND_DATA_DIR: dataDir,
    TURNAROUND_ESCROW_KEY_RING: ringFile,
    TURNAROUND_ORGANIZATION: 'Acme Schools',
    ...settings.env,
  });
}

async function boot(dataDir: string, settings: Settings): Promise<Running> {
  return bootWith(configFor(dataDir, settings));
}

async function bootWith(config: TurnaroundConfig): Promise<Running> {
  const transport = new InProcessTransport();
  const events: Envelope[] = [];
  await transport.subscribe('observer', ['escrow.#'], async (envelope) => {
    events.push(envelope);
  });
  const app = await NestFactory.create(EscrowModule.register(config, transport), {
    logger: false,
  });
  app.connectMicroservice({
    strategy: BusServer.forService(app, 'escrow', transport),
  });
  await app.init();
  await app.startAllMicroservices();

  return { app, transport, events };
}

async function stop(running: Running): Promise<void> {
  await running.transport.idle();
  await running.app.close();
  await running.transport.close();
}

/** What check-in sends for a SetBootstrapToken; `token` undefined means the key was absent. */
function setBootstrapToken(
  running: Running,
  udid: string,
  token: string | undefined,
  awaitingConfiguration = false,
  subject = udid,
): Promise<unknown> {
  const data = { udid, awaitingConfiguration, ...(token === undefined ? {} : { token }) };

  return running.transport.request(
    createEnvelope(StoreBootstrapToken, 'checkin', data, { subject }),
    2000,
  );
}

function fetchToken(
  running: Running,
  udid: string,
  requestedBy = 'provisioning',
  reason = 'rts-erase',
): Promise<unknown> {
  const data = { udid, requestedBy, reason };

  return running.transport.request(
    createEnvelope(FetchBootstrapToken, 'provisioning', data, { subject: udid }),
    2000,
  );
}

function describeToken(running: Running, udid: string, subject = udid): Promise<unknown> {
  return running.transport.request(
    createEnvelope(DescribeBootstrapToken, 'provisioning', { udid }, { subject }),
    2000,
  );
}

function storeCode(running: Running, udid: string, code: string): Promise<unknown> {
  return running.transport.request(
    createEnvelope(StoreActivationLockBypassCode, 'commands', { udid, code }, { subject: udid }),
    2000,
  );
}

function clearLock(
  running: Running,
  udid: string,
  extra: Partial<DataOf<typeof ClearActivationLock>> = {},
): Promise<unknown> {
  const data = {
    udid,
    serialNumber: `SERIAL${udid.slice(-6)}`,
    productType: 'iPad13,18',
    requestedBy: 'provisioning',
    reason: 'Activation Lock found before RTS for cycle c-1',
    ...extra,
  };

  return running.transport.request(
    createEnvelope(ClearActivationLock, 'provisioning', data, {
      subject: udid,
      correlationId: 'c-1',
    }),
    5000,
  );
}

function rewrap(running: Running, requestedBy = 'operator@example.org'): Promise<unknown> {
  return running.transport.request(
    createEnvelope(RewrapEscrowKeys, 'provisioning', { requestedBy }, { subject: 'key-ring' }),
    10_000,
  );
}

function sql<T = Record<string, unknown>>(
  running: Running,
  query: string,
  params: unknown[] = [],
): Promise<T[]> {
  return running.app.get<DataSource>(getDataSourceToken('escrow')).query(query, params);
}

/** Every form in which a secret could be written down, and whether each occurs in `haystack`. */
function leaksOf(haystack: Buffer, token: Buffer): string[] {
  const forms: Record<string, Buffer> = {
    raw: token,
    base64: Buffer.from(token.toString('base64')),
    base64url: Buffer.from(token.toString('base64url')),
    hex: Buffer.from(token.toString('hex')),
    HEX: Buffer.from(token.toString('hex').toUpperCase()),
    utf16: Buffer.from(token.toString('latin1'), 'utf16le'),
  };

  return Object.entries(forms)
    .filter(([, form]) => haystack.includes(form))
    .map(([name]) => name);
}

/** Sends pino's output (every logger is a child of the root) to memory while the suite runs. */
function captureLogs(): { lines: string[]; restore: () => void } {
  const root = rootLogger() as unknown as Record<symbol, unknown>;
  const original = root[pino.symbols.streamSym];
  const lines: string[] = [];
  root[pino.symbols.streamSym] = { write: (line: string) => void lines.push(line) };

  return { lines, restore: () => void (root[pino.symbols.streamSym] = original) };
}

const logs = captureLogs();

beforeAll(() => {
  keysDir = mkdtempSync(join(tmpdir(), 'turnaround-escrow-keys-'));
});

afterAll(() => {
  logs.restore();
  rmSync(keysDir, { recursive: true, force: true });
});

describe('EscrowModule', () => {
  const key = randomBytes(32);
  const settings: Settings = { ring: ringOf('k1', { k1: key }) };
  let dataDir: string;
  let running: Running;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-escrow-'));
    logs.lines.length = 0;
    running = await boot(dataDir, settings);
  });

  afterEach(async () => {
    await stop(running);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores a token from a device in Setup Assistant, whatever the platform (B09a)', async () => {
    const udid = udidOf(1);
    const token = newToken();

    await expect(setBootstrapToken(running, udid, b64(token), true)).resolves.toEqual({
      stored: true,
      version: 1,
    });
    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(token) });
    await running.transport.idle();
    expect(running.events).toEqual([
      expect.objectContaining({
        type: 'escrow.bootstrap-token.escrowed.v1',
        subject: udid,
        data: { udid, version: 1, escrowedAt: expect.any(String) },
      }),
    ]);
  });

  it('removes the token when the device sends <data/>, an empty token (B09b)', async () => {
    const udid = udidOf(2);
    await setBootstrapToken(running, udid, b64(newToken()));

    await expect(setBootstrapToken(running, udid, '')).resolves.toEqual({ stored: false });
    await expect(fetchToken(running, udid)).resolves.toEqual({});
    await running.transport.idle();
    expect(running.events.map((event) => event.type)).toEqual([
      'escrow.bootstrap-token.escrowed.v1',
      'escrow.bootstrap-token.cleared.v1',
    ]);
    expect(running.events[1]!.data).toEqual({ udid, clearedAt: expect.any(String) });
  });

  it('removes the token when the device leaves the key out (B09c)', async () => {
    const udid = udidOf(3);
    await setBootstrapToken(running, udid, b64(newToken()));

    await expect(setBootstrapToken(running, udid, undefined)).resolves.toEqual({ stored: false });
    await expect(fetchToken(running, udid)).resolves.toEqual({});
  });

  it('keeps no sealed copy of a token the device asked to remove', async () => {
    const udid = udidOf(4);
    await setBootstrapToken(running, udid, b64(newToken()));
    await setBootstrapToken(running, udid, b64(newToken()));
    await setBootstrapToken(running, udid, '');

    const rows = await sql(
      running,
      'SELECT version, keyId, wrappedKey, iv, ciphertext, authTag, fingerprint, retiredBecause FROM bootstrap_token_versions WHERE udid = ? ORDER BY version',
      [udid],
    );
    expect(rows).toEqual([
      {
        version: 1,
        keyId: null,
        wrappedKey: null,
        iv: null,
        ciphertext: null,
        authTag: null,
        fingerprint: null,
        retiredBecause: 'replaced',
      },
      {
        version: 2,
        keyId: null,
        wrappedKey: null,
        iv: null,
        ciphertext: null,
        authTag: null,
        fingerprint: null,
        retiredBecause: 'removed',
      },
    ]);
  });

  it('answers a fetch with nothing escrowed with an empty reply, not an error (B10)', async () => {
    await expect(fetchToken(running, udidOf(5))).resolves.toEqual({});
  });

  it('answers a removal with nothing escrowed calmly and announces nothing', async () => {
    await expect(setBootstrapToken(running, udidOf(6), '')).resolves.toEqual({ stored: false });
    await running.transport.idle();
    expect(running.events).toEqual([]);
  });

  it('keeps the token through re-authentication, re-enrollment, other devices and a restart (B11)', async () => {
    const udid = udidOf(7);
    const token = newToken();
    await setBootstrapToken(running, udid, b64(token), true);

    const subject = { subject: udid };
    await running.transport.publish(
      createEnvelope(
        DeviceAuthenticated,
        'checkin',
        { udid, certificateFingerprint: 'ab'.repeat(32) },
        subject,
      ),
    );
    await running.transport.publish(
      createEnvelope(
        DeviceEnrolled,
        'checkin',
        {
          udid,
          enrollmentId: 'enrollment-2',
          previousEnrollmentId: 'enrollment-1',
          fresh: true,
          awaitingConfiguration: true,
          userEnrollment: false,
          certificateFingerprint: 'cd'.repeat(32),
          platform: 'ios',
        },
        subject,
      ),
    );
    await setBootstrapToken(running, udidOf(8), b64(newToken()));
    await setBootstrapToken(running, udidOf(8), '');
    await fetchToken(running, udid);
    await stop(running);
    running = await boot(dataDir, settings);

    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(token) });
    await expect(running.app.get(EscrowStatusService).status(udid)).resolves.toMatchObject({
      version: 1,
    });

    const replacement = newToken();
    await expect(setBootstrapToken(running, udid, b64(replacement))).resolves.toEqual({
      stored: true,
      version: 2,
    });
    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(replacement) });
  });

  it('gives every new token the next version and never reuses a number', async () => {
    const udid = udidOf(9);
    const replies: unknown[] = [];
    for (const token of [newToken(), newToken(), newToken()]) {
      replies.push(await setBootstrapToken(running, udid, b64(token)));
    }
    await setBootstrapToken(running, udid, '');
    const last = newToken();
    replies.push(await setBootstrapToken(running, udid, b64(last)));

    expect(replies).toEqual([1, 2, 3, 4].map((version) => ({ stored: true, version })));
    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(last) });
    const rows = await sql(
      running,
      'SELECT version, retiredBecause FROM bootstrap_token_versions WHERE udid = ? ORDER BY version',
      [udid],
    );
    expect(rows).toEqual([
      { version: 1, retiredBecause: 'replaced' },
      { version: 2, retiredBecause: 'replaced' },
      { version: 3, retiredBecause: 'removed' },
      { version: 4, retiredBecause: null },
    ]);
    await running.transport.idle();
    expect(
      running.events
        .filter((event) => event.type === 'escrow.bootstrap-token.escrowed.v1')
        .map((event) => event.data),
    ).toEqual([1, 2, 3, 4].map((version) => expect.objectContaining({ version })));
  });

  it('adds no version when the device sends the same token again', async () => {
    const udid = udidOf(10);
    const token = newToken();

    await expect(setBootstrapToken(running, udid, b64(token), true)).resolves.toEqual({
      stored: true,
      version: 1,
    });
    await expect(setBootstrapToken(running, udid, b64(token))).resolves.toEqual({
      stored: true,
      version: 1,
    });
    const rows = await sql(running, 'SELECT version FROM bootstrap_token_versions WHERE udid = ?', [
      udid,
    ]);
    expect(rows).toHaveLength(1);
    await running.transport.idle();
    expect(running.events).toHaveLength(1);
  });

  it('counts an older token sent again after a newer one as a new version', async () => {
    const udid = udidOf(11);
    const first = newToken();
    await setBootstrapToken(running, udid, b64(first));
    await setBootstrapToken(running, udid, b64(newToken()));

    await expect(setBootstrapToken(running, udid, b64(first))).resolves.toEqual({
      stored: true,
      version: 3,
    });
    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(first) });
  });

  it('audits every store, repeat, removal and fetch with who asked and why', async () => {
    const udid = udidOf(12);
    const token = b64(newToken());
    const first = createEnvelope(
      StoreBootstrapToken,
      'checkin',
      { udid, token, awaitingConfiguration: true },
      {
        subject: udid,
        correlationId: 'cycle-1',
      },
    );
    await running.transport.request(first, 2000);
    await setBootstrapToken(running, udid, token);
    await fetchToken(running, udid);
    await setBootstrapToken(running, udid, '');
    await fetchToken(running, udid);
    await setBootstrapToken(running, udid, undefined);

    const rows = await sql<Record<string, unknown>>(
      running,
      'SELECT action, version, found, requestedBy, reason, source, messageId, correlationId, at FROM escrow_audit WHERE udid = ? ORDER BY rowid',
      [udid],
    );
    const device = { requestedBy: 'device', reason: 'SetBootstrapToken', source: 'checkin' };
    const rts = { requestedBy: 'provisioning', reason: 'rts-erase', source: 'provisioning' };
    expect(
      rows.map(({ action, version, found, requestedBy, reason, source }) => ({
        action,
        version,
        found: Boolean(found),
        requestedBy,
        reason,
        source,
      })),
    ).toEqual([
      { action: 'store', version: 1, found: false, ...device },
      { action: 'repeat', version: 1, found: true, ...device },
      { action: 'fetch', version: 1, found: true, ...rts },
      { action: 'clear', version: 1, found: true, ...device },
      { action: 'fetch', version: null, found: false, ...rts },
      { action: 'clear', version: null, found: false, ...device },
    ]);
    expect(rows[0]).toMatchObject({ messageId: first.id, correlationId: 'cycle-1' });
    expect(rows.every((row) => typeof row.at === 'string' && row.at.length > 0)).toBe(true);
  });

  it('audits a fetch for a device it never heard of', async () => {
    await fetchToken(running, udidOf(13));

    const rows = await sql(running, 'SELECT action, found FROM escrow_audit WHERE udid = ?', [
      udidOf(13),
    ]);
    expect(rows).toEqual([{ action: 'fetch', found: 0 }]);
  });

  it('leaves no trace of the token on disk, in the logs, in events or in replies', async () => {
    const udid = udidOf(14);
    const token = newToken();
    expect(leaksOf(Buffer.concat([randomBytes(8), token]), token)).toEqual(['raw']);

    const replies = [
      await setBootstrapToken(running, udid, b64(token), true),
      await setBootstrapToken(running, udid, b64(token)),
    ];
    expect(await fetchToken(running, udid)).toEqual({ token: b64(token) });
    await running.transport.idle();

    const walFile = join(dataDir, 'escrow.sqlite-wal');
    expect(existsSync(walFile)).toBe(true);
    const whileRunning = readdirSync(dataDir).map((name) => readFileSync(join(dataDir, name)));
    const onDiskWhileRunning = Buffer.concat(whileRunning);
    expect(onDiskWhileRunning.includes(Buffer.from(udid))).toBe(true);
    expect(leaksOf(onDiskWhileRunning, token)).toEqual([]);
    expect(leaksOf(readFileSync(walFile), token)).toEqual([]);

    const logText = Buffer.from(logs.lines.join(''));
    expect(
      logs.lines.some((line) => line.includes('"bootstrap token stored"') && line.includes(udid)),
    ).toBe(true);
    expect(
      logs.lines.some(
        (line) => line.includes('"bootstrap token fetched"') && line.includes('"version":1'),
      ),
    ).toBe(true);
    expect(leaksOf(logText, token)).toEqual([]);
    expect(leaksOf(Buffer.from(JSON.stringify(running.events)), token)).toEqual([]);
    expect(running.events).toHaveLength(1);
    expect(leaksOf(Buffer.from(JSON.stringify(replies)), token)).toEqual([]);
    expect(running.transport.deadLetters()).toEqual([]);

    await stop(running);
    const afterClose = Buffer.concat(
      readdirSync(dataDir).map((name) => readFileSync(join(dataDir, name))),
    );
    expect(afterClose.includes(Buffer.from(udid))).toBe(true);
    expect(leaksOf(afterClose, token)).toEqual([]);
    running = await boot(dataDir, settings);
  });

  it('refuses a sealed token copied onto another device, without naming the token', async () => {
    const [owner, thief] = [udidOf(15), udidOf(16)];
    const [ownerToken, thiefToken] = [newToken(), newToken()];
    await setBootstrapToken(running, owner, b64(ownerToken));
    await setBootstrapToken(running, thief, b64(thiefToken));
    await sql(
      running,
      `UPDATE bootstrap_token_versions SET
         iv = (SELECT iv FROM bootstrap_token_versions WHERE udid = ?),
         ciphertext = (SELECT ciphertext FROM bootstrap_token_versions WHERE udid = ?),
         authTag = (SELECT authTag FROM bootstrap_token_versions WHERE udid = ?)
       WHERE udid = ?`,
      [owner, owner, owner, thief],
    );

    const failure = await fetchToken(running, thief).then(
      () => undefined,
      (error: unknown) => error,
    );
    // Nest's RPC exception layer replaces the error before the bus sees it (see the report), so
    // the code is read from the service's log line rather than from the rejection.
    expect(failure).toBeInstanceOf(Error);
    expect(
      logs.lines.some(
        (line) =>
          line.includes('"bootstrap token fetch failed"') &&
          line.includes('"code":"ESCROW.SEAL_BROKEN"') &&
          line.includes(thief),
      ),
    ).toBe(true);
    const text = `${String(failure)} ${JSON.stringify(failure)} ${logs.lines.join('')}`;
    expect(leaksOf(Buffer.from(text), ownerToken)).toEqual([]);
    expect(leaksOf(Buffer.from(text), thiefToken)).toEqual([]);
    await expect(fetchToken(running, owner)).resolves.toEqual({ token: b64(ownerToken) });
    const audit = await sql(
      running,
      'SELECT action, found FROM escrow_audit WHERE udid = ? AND action = ?',
      [thief, 'fetch'],
    );
    expect(audit).toEqual([{ action: 'fetch', found: 1 }]);
  });

  it('refuses a request whose subject is another device, and stores nothing', async () => {
    const failure = setBootstrapToken(running, udidOf(17), b64(newToken()), false, udidOf(18));

    await expect(failure).rejects.toBeInstanceOf(Error);
    expect(
      logs.lines.some(
        (line) =>
          line.includes('"escrow request refused"') &&
          line.includes('"code":"ESCROW.SUBJECT_MISMATCH"'),
      ),
    ).toBe(true);
    await expect(fetchToken(running, udidOf(17))).resolves.toEqual({});
    await expect(fetchToken(running, udidOf(18))).resolves.toEqual({});
  });

  it('keeps every device right when many store at once', async () => {
    const tokens = Array.from({ length: 16 }, (_, n) => ({
      udid: udidOf(100 + n),
      token: newToken(),
    }));
    const replies = await Promise.all(
      tokens.map(({ udid, token }) => setBootstrapToken(running, udid, b64(token))),
    );

    expect(replies).toEqual(tokens.map(() => ({ stored: true, version: 1 })));
    for (const { udid, token } of tokens) {
      await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(token) });
    }
  });

  it('orders racing tokens for one device into distinct versions with the last one in force', async () => {
    const udid = udidOf(19);
    const tokens = Array.from({ length: 6 }, newToken);
    const replies = (await Promise.all(
      tokens.map((token) => setBootstrapToken(running, udid, b64(token))),
    )) as {
      version: number;
    }[];

    expect(replies.map((reply) => reply.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const newest = tokens[replies.findIndex((reply) => reply.version === 6)]!;
    await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(newest) });
  });

  it('keeps transactions apart when calls reach the repository in the same tick', async () => {
    // The in-process bus starts each request on its own timer tick; direct calls do not, which is
    // what a transaction that waits on I/O would look like.
    const repository = running.app.get(EscrowRepository);
    const sealer = running.app.get(SecretSealer);
    const access = { requestedBy: 'test', reason: 'race', source: 'checkin', messageId: 'm' };
    const kind = 'bootstrap-token';
    const incoming = (udid: string, token: Buffer) => ({
      repeats: () => false,
      sealAs: (version: number) => sealer.seal({ kind, udid, version }, token),
    });
    const udid = udidOf(21);
    const tokens = Array.from({ length: 6 }, newToken);

    const outcomes = await Promise.all([
      ...tokens.map((token) => repository.escrow(kind, udid, incoming(udid, token), access)),
      repository.clearToken(udidOf(22), access),
      repository.fetch(kind, udidOf(23), access),
    ]);

    const versions = outcomes
      .slice(0, 6)
      .map((outcome) => (outcome as { version: number }).version);
    expect([...versions].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const rows = await sql(
      running,
      'SELECT version, retiredAt FROM bootstrap_token_versions WHERE udid = ? ORDER BY version',
      [udid],
    );
    expect(rows.map((row) => row.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.filter((row) => row.retiredAt === null)).toEqual([{ version: 6, retiredAt: null }]);
    const audit = await sql(running, 'SELECT udid FROM escrow_audit');
    expect(audit).toHaveLength(8);
  });

  it('reports whether a token is in force without revealing it', async () => {
    const udid = udidOf(20);
    const status = running.app.get(EscrowStatusService);
    await expect(status.status(udid)).resolves.toEqual({ present: false });

    await setBootstrapToken(running, udid, b64(newToken()));
    await expect(status.status(udid)).resolves.toEqual({
      present: true,
      version: 1,
      escrowedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    await setBootstrapToken(running, udid, '');
    await expect(status.status(udid)).resolves.toEqual({ present: false });
  });

  it('refuses to be registered with an escrow key that is not 32 bytes', () => {
    const config = {
      ...configFor(dataDir, settings),
      escrowKeyRing: { activeKeyId: 'k1', keys: new Map([['k1', randomBytes(16)]]) },
    };

    expect(() => EscrowModule.register(config, new InProcessTransport())).toThrow(EscrowKeyError);
  });
});

type Row = Record<string, unknown>;
type Table = 'bootstrap_token_versions' | 'activation_lock_bypass_codes';

const SEALED_COLUMNS = ['keyId', 'wrappedKey', 'iv', 'ciphertext', 'authTag', 'fingerprint'];

async function readSealed(
  running: Running,
  table: Table,
  udid: string,
  version: number,
): Promise<Row> {
  const [row] = await sql(
    running,
    `SELECT ${SEALED_COLUMNS.join(', ')} FROM ${table} WHERE udid = ? AND version = ?`,
    [udid, version],
  );

  return row!;
}

async function writeSealed(
  running: Running,
  table: Table,
  udid: string,
  version: number,
  values: Row,
  columns: string[],
): Promise<void> {
  await sql(
    running,
    `UPDATE ${table} SET ${columns.map((column) => `${column} = ?`).join(', ')} WHERE udid = ? AND version = ?`,
    [...columns.map((column) => values[column]), udid, version],
  );
}

function failedWith(code: string, udid: string): boolean {
  return logs.lines.some((line) => line.includes(`"code":"${code}"`) && line.includes(udid));
}

describe('EscrowModule vault', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  let dataDir: string;
  let running: Running | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-escrow-vault-'));
    logs.lines.length = 0;
  });

  afterEach(async () => {
    if (running) {
      await stop(running);
      running = undefined;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function restart(settings: Settings): Promise<Running> {
    if (running) {
      await stop(running);
    }
    running = await boot(dataDir, settings);

    return running;
  }

  describe('binding of every seal to its row', () => {
    const settings: Settings = { ring: ringOf('k1', { k1 }) };

    it.each([
      ['the wrapped key', ['keyId', 'wrappedKey']],
      ['the ciphertext', ['iv', 'ciphertext', 'authTag']],
      ['every sealed column', SEALED_COLUMNS],
    ])('refuses %s swapped between two devices', async (_what, columns) => {
      const app = await restart(settings);
      const [a, b] = [udidOf(31), udidOf(32)];
      const [tokenA, tokenB] = [newToken(), newToken()];
      await setBootstrapToken(app, a, b64(tokenA));
      await setBootstrapToken(app, b, b64(tokenB));
      const [rowA, rowB] = [
        await readSealed(app, 'bootstrap_token_versions', a, 1),
        await readSealed(app, 'bootstrap_token_versions', b, 1),
      ];
      await writeSealed(app, 'bootstrap_token_versions', a, 1, rowB, columns);
      await writeSealed(app, 'bootstrap_token_versions', b, 1, rowA, columns);

      await expect(fetchToken(app, a)).rejects.toBeInstanceOf(Error);
      await expect(fetchToken(app, b)).rejects.toBeInstanceOf(Error);
      expect(failedWith('ESCROW.SEAL_BROKEN', a)).toBe(true);
      expect(failedWith('ESCROW.SEAL_BROKEN', b)).toBe(true);
      const text = Buffer.from(logs.lines.join(''));
      expect([...leaksOf(text, tokenA), ...leaksOf(text, tokenB)]).toEqual([]);

      await writeSealed(app, 'bootstrap_token_versions', a, 1, rowA, columns);
      await expect(fetchToken(app, a)).resolves.toEqual({ token: b64(tokenA) });
    });

    it('refuses an older version moved into the version in force', async () => {
      const app = await restart(settings);
      const udid = udidOf(33);
      await setBootstrapToken(app, udid, b64(newToken()));
      await setBootstrapToken(app, udid, b64(newToken()));
      const older = await readSealed(app, 'bootstrap_token_versions', udid, 1);
      await writeSealed(app, 'bootstrap_token_versions', udid, 2, older, SEALED_COLUMNS);

      await expect(fetchToken(app, udid)).rejects.toBeInstanceOf(Error);
      expect(failedWith('ESCROW.SEAL_BROKEN', udid)).toBe(true);
    });

    it('refuses a bypass code moved into the bootstrap token of the same device and version', async () => {
      const app = await restart(settings);
      const udid = udidOf(34);
      await setBootstrapToken(app, udid, b64(newToken()));
      await storeCode(app, udid, newCode());
      const code = await readSealed(app, 'activation_lock_bypass_codes', udid, 1);
      await writeSealed(app, 'bootstrap_token_versions', udid, 1, code, SEALED_COLUMNS);

      await expect(fetchToken(app, udid)).rejects.toBeInstanceOf(Error);
      expect(failedWith('ESCROW.SEAL_BROKEN', udid)).toBe(true);
    });
  });

  describe('DescribeBootstrapToken', () => {
    it('tells whether a token is in force, which version and since when, and audits no read', async () => {
      const app = await restart({ ring: ringOf('k1', { k1 }) });
      const udid = udidOf(35);
      await expect(describeToken(app, udid)).resolves.toEqual({ present: false });

      await setBootstrapToken(app, udid, b64(newToken()));
      await setBootstrapToken(app, udid, b64(newToken()));
      const audited = (await sql(app, 'SELECT id FROM escrow_audit')).length;
      const reply = await describeToken(app, udid);

      expect(reply).toEqual({ present: true, version: 2, escrowedAt: expect.any(String) });
      const [row] = await sql(
        app,
        'SELECT escrowedAt FROM bootstrap_token_versions WHERE udid = ? AND version = 2',
        [udid],
      );
      expect(new Date((reply as { escrowedAt: string }).escrowedAt).getTime()).toBe(
        new Date(`${String(row!.escrowedAt).replace(' ', 'T')}Z`).getTime(),
      );
      expect(await sql(app, 'SELECT id FROM escrow_audit')).toHaveLength(audited);
      await setBootstrapToken(app, udid, '');
      await expect(describeToken(app, udid)).resolves.toEqual({ present: false });
    });

    it('refuses a request whose subject is another device', async () => {
      const app = await restart({ ring: ringOf('k1', { k1 }) });

      await expect(describeToken(app, udidOf(36), udidOf(37))).rejects.toBeInstanceOf(Error);
      expect(failedWith('ESCROW.SUBJECT_MISMATCH', udidOf(36))).toBe(true);
    });
  });

  it('audits the reads the other services make with their own names and reasons', async () => {
    const app = await restart({ ring: ringOf('k1', { k1 }) });
    const udid = udidOf(38);
    const token = newToken();
    await setBootstrapToken(app, udid, b64(token));
    const reads: [string, string][] = [
      ['commands', 'erase for cycle 6f1c0d3e'],
      ['checkin', 'ReturnToService check-in for cycle 6f1c0d3e'],
      ['checkin', 'GetBootstrapToken check-in'],
    ];
    for (const [requestedBy, reason] of reads) {
      await expect(fetchToken(app, udid, requestedBy, reason)).resolves.toEqual({
        token: b64(token),
      });
    }

    const rows = await sql(
      app,
      "SELECT requestedBy, reason, secret, version, found FROM escrow_audit WHERE udid = ? AND action = 'fetch' ORDER BY rowid",
      [udid],
    );
    expect(rows).toEqual(
      reads.map(([requestedBy, reason]) => ({
        requestedBy,
        reason,
        secret: 'bootstrap-token',
        version: 1,
        found: 1,
      })),
    );
  });

  describe('key rotation', () => {
    /** Two devices with tokens (one replaced once), one with its token removed, codes for two. */
    async function populate(app: Running) {
      const [a, b, c] = [udidOf(40), udidOf(41), udidOf(42)];
      const tokens = { [a]: newToken(), [b]: newToken() };
      const codes = { [a]: newCode(), [b]: newCode() };
      await setBootstrapToken(app, a, b64(newToken()));
      await setBootstrapToken(app, a, b64(tokens[a]!));
      await setBootstrapToken(app, b, b64(tokens[b]!));
      await setBootstrapToken(app, c, b64(newToken()));
      await setBootstrapToken(app, c, '');
      await storeCode(app, a, newCode());
      await storeCode(app, a, codes[a]!);
      await storeCode(app, b, codes[b]!);

      return { a, b, c, tokens, codes };
    }

    async function sealedRows(app: Running): Promise<Row[]> {
      return sql(
        app,
        `SELECT 'token' AS secret, id, keyId, wrappedKey, iv, ciphertext, authTag, fingerprint FROM bootstrap_token_versions WHERE ciphertext IS NOT NULL
         UNION ALL
         SELECT 'code', id, keyId, wrappedKey, iv, ciphertext, authTag, fingerprint FROM activation_lock_bypass_codes WHERE ciphertext IS NOT NULL
         ORDER BY id`,
      );
    }

    it('loses nothing: store, add a key and make it active, rewrap, remove the old key', async () => {
      let app = await restart({ ring: ringOf('k1', { k1 }) });
      const { a, b, c, tokens, codes } = await populate(app);
      const before = await sealedRows(app);
      expect(before).toHaveLength(6);
      expect(before.every((row) => row.keyId === 'k1')).toBe(true);

      app = await restart({ ring: ringOf('k2', { k1, k2 }) });
      const d = udidOf(43);
      const tokenD = newToken();
      await setBootstrapToken(app, d, b64(tokenD));
      await expect(rewrap(app)).resolves.toEqual({ activeKeyId: 'k2', examined: 6, rewrapped: 6 });

      const after = await sealedRows(app);
      expect(after).toHaveLength(7);
      expect(after.every((row) => row.keyId === 'k2')).toBe(true);
      for (const old of before) {
        const now = after.find((row) => row.id === old.id)!;
        // Only the data key's wrapping changed: the secret was not re-encrypted.
        expect(now).toEqual({ ...old, keyId: 'k2', wrappedKey: expect.any(String) });
        expect(now.wrappedKey).not.toEqual(old.wrappedKey);
      }
      const audit = await sql(
        app,
        "SELECT secret, requestedBy, reason FROM escrow_audit WHERE action = 'rewrap' ORDER BY secret",
      );
      expect(audit).toHaveLength(6);
      expect(audit[0]).toEqual({
        secret: 'activation-lock-bypass-code',
        requestedBy: 'operator@example.org',
        reason: 'RewrapEscrowKeys under k2',
      });
      await expect(rewrap(app)).resolves.toEqual({ activeKeyId: 'k2', examined: 0, rewrapped: 0 });

      app = await restart({ ring: ringOf('k2', { k2 }) });
      await expect(fetchToken(app, a)).resolves.toEqual({ token: b64(tokens[a]!) });
      await expect(fetchToken(app, b)).resolves.toEqual({ token: b64(tokens[b]!) });
      await expect(fetchToken(app, c)).resolves.toEqual({});
      await expect(fetchToken(app, d)).resolves.toEqual({ token: b64(tokenD) });
      await expect(setBootstrapToken(app, a, b64(tokens[a]!))).resolves.toEqual({
        stored: true,
        version: 2,
      });
      await expect(setBootstrapToken(app, b, b64(tokens[b]!))).resolves.toEqual({
        stored: true,
        version: 1,
      });
      await storeCode(app, a, codes[a]!);
      await storeCode(app, b, codes[b]!);
      const versions = await sql(
        app,
        `SELECT (SELECT COUNT(*) FROM bootstrap_token_versions) AS tokens,
                (SELECT COUNT(*) FROM activation_lock_bypass_codes) AS codes,
                (SELECT COUNT(*) FROM escrow_audit WHERE action = 'repeat') AS repeats`,
      );
      expect(versions).toEqual([{ tokens: 5, codes: 3, repeats: 4 }]);
      expect(logs.lines.some((line) => line.includes('not comparable'))).toBe(false);
    });

    it('reports what it could not move when an old key left the ring too early, and finishes once it is back', async () => {
      let app = await restart({ ring: ringOf('k1', { k1 }) });
      const { a, tokens } = await populate(app);

      app = await restart({ ring: ringOf('k2', { k2 }) });
      await expect(fetchToken(app, a)).rejects.toBeInstanceOf(Error);
      expect(failedWith('ESCROW.KEY_NOT_IN_RING', a)).toBe(true);
      await expect(rewrap(app)).resolves.toEqual({ activeKeyId: 'k2', examined: 6, rewrapped: 0 });

      app = await restart({ ring: ringOf('k2', { k1, k2 }) });
      await expect(rewrap(app)).resolves.toEqual({ activeKeyId: 'k2', examined: 6, rewrapped: 6 });
      app = await restart({ ring: ringOf('k2', { k2 }) });
      await expect(fetchToken(app, a)).resolves.toEqual({ token: b64(tokens[a]!) });
    });

    it('keeps a device storing while its version in force cannot be compared', async () => {
      let app = await restart({ ring: ringOf('k1', { k1 }) });
      const udid = udidOf(44);
      await setBootstrapToken(app, udid, b64(newToken()));

      app = await restart({ ring: ringOf('k2', { k2 }) });
      const fresh = newToken();
      await expect(setBootstrapToken(app, udid, b64(fresh))).resolves.toEqual({
        stored: true,
        version: 2,
      });
      await expect(fetchToken(app, udid)).resolves.toEqual({ token: b64(fresh) });
      expect(failedWith('ESCROW.KEY_NOT_IN_RING', udid)).toBe(true);
    });

    it('upgrades a data directory of the single-key version: adopts escrow.key, opens its rows, moves them on', async () => {
      const legacyKey = randomBytes(32);
      writeFileSync(join(dataDir, 'escrow.key'), `${b64(legacyKey)}\n`, { mode: 0o600 });
      const udid = udidOf(45);
      const token = newToken();
      const rows = [
        legacySeal(legacyKey, udid, 1, newToken()),
        legacySeal(legacyKey, udid, 2, token),
      ];
      const previous = new Database(join(dataDir, 'escrow.sqlite'));
      previous.exec(PREVIOUS_SCHEMA);
      const insert = previous.prepare(
        `INSERT INTO bootstrap_token_versions (id, udid, version, iv, ciphertext, authTag, fingerprint, escrowedAt, retiredAt, retiredBecause)
         VALUES (?, ?, ?, ?, ?, ?, ?, '2026-01-01 00:00:00.000', ?, ?)`,
      );
      rows.forEach(({ sealed, fingerprint }, index) =>
        insert.run(
          randomUUID(),
          udid,
          index + 1,
          b64(sealed.iv),
          b64(sealed.ciphertext),
          b64(sealed.authTag),
          b64(fingerprint),
          index === 0 ? '2026-01-01 00:00:00.000' : null,
          index === 0 ? 'replaced' : null,
        ),
      );
      previous
        .prepare(
          `INSERT INTO escrow_audit (id, udid, action, version, found, requestedBy, reason, source, messageId, correlationId, at)
           VALUES (?, ?, 'store', 2, 1, 'device', 'SetBootstrapToken', 'checkin', 'm-1', NULL, '2026-01-01 00:00:00.000')`,
        )
        .run(randomUUID(), udid);
      previous.close();
      running = await bootWith(loadConfig({ TURNAROUND_DATA_DIR: dataDir }));

      await expect(fetchToken(running, udid)).resolves.toEqual({ token: b64(token) });
      await expect(setBootstrapToken(running, udid, b64(token))).resolves.toEqual({
        stored: true,
        version: 2,
      });
      expect(
        await sql(
          running,
          'SELECT secret, action FROM escrow_audit WHERE udid = ? ORDER BY rowid',
          [udid],
        ),
      ).toEqual([
        { secret: 'bootstrap-token', action: 'store' },
        { secret: 'bootstrap-token', action: 'fetch' },
        { secret: 'bootstrap-token', action: 'repeat' },
      ]);

      await restart({ ring: ringOf('k2', { 'escrow.key': legacyKey, k2 }) });
      await expect(rewrap(running)).resolves.toEqual({
        activeKeyId: 'k2',
        examined: 2,
        rewrapped: 2,
      });
      const app = await restart({ ring: ringOf('k2', { k2 }) });
      await expect(fetchToken(app, udid)).resolves.toEqual({ token: b64(token) });
      await expect(setBootstrapToken(app, udid, b64(token))).resolves.toEqual({
        stored: true,
        version: 2,
      });
      const now = await sql(
        app,
        'SELECT version, keyId, ciphertext FROM bootstrap_token_versions WHERE udid = ? ORDER BY version',
        [udid],
      );
      expect(now).toEqual(
        [1, 2].map((version) => ({ version, keyId: 'k2', ciphertext: expect.any(String) })),
      );
      // Rows from before the ring had no data key: they are the one case that is re-encrypted.
      expect(now.map((row) => row.ciphertext)).not.toContain(b64(rows[0]!.sealed.ciphertext));
      expect(now.map((row) => row.ciphertext)).not.toContain(b64(rows[1]!.sealed.ciphertext));
    });
  });
});

describe('EscrowModule Activation Lock', () => {
  const key = randomBytes(32);
  let dataDir: string;
  let running: Running;
  let fake: FakeUnlockEndpoint;
  let answer: FakeAnswer;

  /** Apple's endpoint as far as the call's shape goes: it says 400 to a malformed call. */
  function apple(call: Parameters<Parameters<typeof startFakeUnlockEndpoint>[0]>[0]): FakeAnswer {
    const wellFormed =
      call.method === 'POST' &&
      call.contentType === 'application/x-www-form-urlencoded' &&
      Boolean(call.query.get('serial')) &&
      Boolean(call.query.get('productType')) &&
      !call.query.has('escrowKey') &&
      [...call.form.keys()].sort().join() === 'escrowKey,guid,orgName';

    return wellFormed ? answer : { status: 400, text: 'malformed request' };
  }

  async function bootWithUnlock(env: Record<string, string> = {}): Promise<Running> {
    return boot(dataDir, {
      ring: ringOf('k1', { k1: key }),
      env: {
        TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: fake.url,
        TURNAROUND_REQUEST_TIMEOUT_MS: '300',
        ...env,
      },
    });
  }

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-escrow-lock-'));
    logs.lines.length = 0;
    answer = { status: 200, text: '' };
    fake = await startFakeUnlockEndpoint((call) => apple(call));
    running = await bootWithUnlock();
  });

  afterEach(async () => {
    await stop(running);
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every code as a version: a new code retires the one in force, the same code is a repeat', async () => {
    const udid = udidOf(50);
    const [first, second] = [newCode(), newCode()];

    await expect(storeCode(running, udid, first)).resolves.toEqual({ stored: true });
    await expect(storeCode(running, udid, first)).resolves.toEqual({ stored: true });
    await expect(storeCode(running, udid, second)).resolves.toEqual({ stored: true });

    const rows = await sql(
      running,
      'SELECT version, keyId, retiredBecause FROM activation_lock_bypass_codes WHERE udid = ? ORDER BY version',
      [udid],
    );
    expect(rows).toEqual([
      { version: 1, keyId: 'k1', retiredBecause: 'replaced' },
      { version: 2, keyId: 'k1', retiredBecause: null },
    ]);
    const audit = await sql(
      running,
      'SELECT action, version, secret, requestedBy, reason, source FROM escrow_audit WHERE udid = ? ORDER BY rowid',
      [udid],
    );
    const device = {
      secret: 'activation-lock-bypass-code',
      requestedBy: 'device',
      reason: 'ActivationLockBypassCode',
      source: 'commands',
    };
    expect(audit).toEqual([
      { action: 'store', version: 1, ...device },
      { action: 'repeat', version: 1, ...device },
      { action: 'store', version: 2, ...device },
    ]);
    await expect(describeToken(running, udid)).resolves.toEqual({ present: false });
  });

  it('clears Activation Lock with the code in force, sent as escrowKeyUnlock expects', async () => {
    const udid = udidOf(51);
    const code = newCode();
    await storeCode(running, udid, newCode());
    await storeCode(running, udid, code);

    await expect(
      clearLock(running, udid, { imei: '352099001761481', meid: '35209900176148' }),
    ).resolves.toEqual({ outcome: 'cleared' });
    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(Object.fromEntries(call!.query)).toEqual({
      serial: `SERIAL${udid.slice(-6)}`,
      productType: 'iPad13,18',
      imei: '352099001761481',
      meid: '35209900176148',
    });
    expect(Object.fromEntries(call!.form)).toEqual({
      orgName: 'Acme Schools',
      guid: 'provisioning',
      escrowKey: code,
    });
    const audit = await sql(
      running,
      "SELECT action, version, found, outcome, requestedBy, reason, correlationId FROM escrow_audit WHERE udid = ? AND action IN ('fetch', 'unlock') ORDER BY rowid",
      [udid],
    );
    const who = {
      requestedBy: 'provisioning',
      reason: 'Activation Lock found before RTS for cycle c-1',
      correlationId: 'c-1',
    };
    expect(audit).toEqual([
      { action: 'fetch', version: 2, found: 1, outcome: null, ...who },
      { action: 'unlock', version: 2, found: 1, outcome: 'cleared', ...who },
    ]);
  });

  it('leaves out the cellular identifiers a device does not have', async () => {
    const udid = udidOf(52);
    await storeCode(running, udid, newCode());

    await expect(clearLock(running, udid, { imei: '' })).resolves.toEqual({ outcome: 'cleared' });
    expect([...fake.calls[0]!.query.keys()]).toEqual(['serial', 'productType']);
  });

  it('passes on a refusal with its status and the start of the answer, never the code', async () => {
    const udid = udidOf(53);
    const code = newCode();
    await storeCode(running, udid, code);
    answer = {
      status: 403,
      text: `escrowKey ${code} is not valid for this device\r\n${'x'.repeat(400)}`,
    };

    const reply = (await clearLock(running, udid)) as { outcome: string; detail: string };

    expect(reply.outcome).toBe('refused');
    expect(reply.detail).toMatch(
      /^HTTP 403: escrowKey \[redacted\] is not valid for this device x+$/,
    );
    expect(reply.detail.length).toBeLessThanOrEqual('HTTP 403: '.length + 200);
    const everything = Buffer.from(`${JSON.stringify(reply)}${logs.lines.join('')}`);
    expect(leaksOf(everything, Buffer.from(code))).toEqual([]);
  });

  it.each<[string, FakeAnswer, RegExp]>([
    [
      'a server error',
      { status: 503, text: 'Service Unavailable' },
      /^HTTP 503: Service Unavailable$/,
    ],
    ['no answer in time', 'hang', /^unlock endpoint gave no answer within 300 ms$/],
  ])('calls the lock unavailable after %s', async (_case, given, detail) => {
    const udid = udidOf(54);
    await storeCode(running, udid, newCode());
    answer = given;

    await expect(clearLock(running, udid)).resolves.toEqual({
      outcome: 'unavailable',
      detail: expect.stringMatching(detail),
    });
    const [unlock] = await sql(
      running,
      "SELECT outcome FROM escrow_audit WHERE udid = ? AND action = 'unlock'",
      [udid],
    );
    expect(unlock).toEqual({ outcome: 'unavailable' });
  });

  it('calls the lock unavailable when the endpoint cannot be reached', async () => {
    await stop(running);
    running = await bootWithUnlock({
      TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: `http://127.0.0.1:${await freeLoopbackPort()}/unlock`,
    });
    const udid = udidOf(55);
    await storeCode(running, udid, newCode());

    await expect(clearLock(running, udid)).resolves.toEqual({
      outcome: 'unavailable',
      detail: 'unlock endpoint unreachable: ECONNREFUSED',
    });
  });

  it('answers no-code when none is escrowed, without calling Apple, and audits the read', async () => {
    const udid = udidOf(56);

    await expect(clearLock(running, udid)).resolves.toEqual({ outcome: 'no-code' });
    expect(fake.calls).toEqual([]);
    const audit = await sql(
      running,
      'SELECT action, found, secret FROM escrow_audit WHERE udid = ?',
      [udid],
    );
    expect(audit).toEqual([{ action: 'fetch', found: 0, secret: 'activation-lock-bypass-code' }]);
  });

  it('without an unlock URL calls the lock unavailable and does not read the code', async () => {
    await stop(running);
    const linesBefore = logs.lines.length;
    running = await boot(dataDir, { ring: ringOf('k1', { k1: key }) });
    const [withCode, without] = [udidOf(57), udidOf(58)];
    await storeCode(running, withCode, newCode());

    await expect(clearLock(running, withCode)).resolves.toEqual({
      outcome: 'unavailable',
      detail: expect.stringContaining('TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL'),
    });
    await expect(clearLock(running, without)).resolves.toEqual({ outcome: 'no-code' });
    expect(
      await sql(running, "SELECT id FROM escrow_audit WHERE action IN ('fetch', 'unlock')"),
    ).toEqual([]);
    // The missing endpoint is warned about once, at start; each request is an info line (a
    // device that asks for RTS itself asks for a clear every cycle).
    const lines = logs.lines
      .slice(linesBefore)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const notCleared = lines
      .filter((line) => line.msg === 'activation lock not cleared')
      .map(({ udid, outcome, level }) => ({ udid, outcome, level }));
    expect(notCleared).toEqual([
      { udid: withCode, outcome: 'unavailable', level: 'info' },
      { udid: without, outcome: 'no-code', level: 'info' },
    ]);
    expect(lines.filter((line) => line.level === 'warn').map(({ msg }) => msg)).toEqual([
      'no unlock endpoint configured: Activation Lock cannot be cleared before an erase',
    ]);
  });

  it('refuses a code whose subject is another device, and stores nothing', async () => {
    const failure = running.transport.request(
      createEnvelope(
        StoreActivationLockBypassCode,
        'commands',
        { udid: udidOf(59), code: newCode() },
        {
          subject: udidOf(60),
        },
      ),
      2000,
    );

    await expect(failure).rejects.toBeInstanceOf(Error);
    expect(await sql(running, 'SELECT id FROM activation_lock_bypass_codes')).toEqual([]);
  });

  it('leaves no trace of a code or a token in sealed rows, audit rows, logs or replies', async () => {
    const udid = udidOf(61);
    const code = newCode();
    const token = newToken();
    const replies = [
      await setBootstrapToken(running, udid, b64(token)),
      await storeCode(running, udid, code),
      await storeCode(running, udid, code),
      await fetchToken(running, udid),
      await describeToken(running, udid),
      await clearLock(running, udid),
    ];
    answer = { status: 404, text: `unknown ${code}` };
    replies.push(await clearLock(running, udid), await rewrap(running));
    await running.transport.idle();

    const rows = Buffer.from(
      JSON.stringify([
        await sql(running, 'SELECT * FROM bootstrap_token_versions'),
        await sql(running, 'SELECT * FROM activation_lock_bypass_codes'),
        await sql(running, 'SELECT * FROM escrow_audit'),
      ]),
    );
    const codeBytes = Buffer.from(code, 'utf8');
    expect(leaksOf(rows, codeBytes)).toEqual([]);
    expect(leaksOf(rows, token)).toEqual([]);
    const logText = Buffer.from(logs.lines.join(''));
    expect(logs.lines.some((line) => line.includes('"activation lock cleared"'))).toBe(true);
    expect(leaksOf(logText, codeBytes)).toEqual([]);
    expect(leaksOf(logText, token)).toEqual([]);
    // The token is handed out on purpose by FetchBootstrapToken; nothing else may carry either.
    const otherReplies = Buffer.from(JSON.stringify(replies.filter((_, index) => index !== 3)));
    expect(leaksOf(otherReplies, codeBytes)).toEqual([]);
    expect(leaksOf(otherReplies, token)).toEqual([]);
    expect(leaksOf(Buffer.from(JSON.stringify(running.events)), token)).toEqual([]);
    await stop(running);
    const onDisk = Buffer.concat(
      readdirSync(dataDir).map((name) => readFileSync(join(dataDir, name))),
    );
    expect(onDisk.includes(Buffer.from(udid))).toBe(true);
    expect(leaksOf(onDisk, codeBytes)).toEqual([]);
    expect(leaksOf(onDisk, token)).toEqual([]);
    running = await bootWithUnlock();
  });
});
