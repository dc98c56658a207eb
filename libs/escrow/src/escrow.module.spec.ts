import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { pino } from 'pino';
import { DataSource } from 'typeorm';

import {
  createEnvelope,
  DeviceAuthenticated,
  DeviceEnrolled,
  Envelope,
  FetchBootstrapToken,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import { BusServer, InProcessTransport, SERVICE_TRANSPORTS } from '@turnaround/messaging';
import { loadConfig, rootLogger, TurnaroundConfig } from '@turnaround/platform';

import { EscrowRepository } from './data-access/escrow.repository.js';
import { TokenSealer } from './domain/token-sealing.js';
import { EscrowKeyError, EscrowModule, EscrowStatusService } from './index.js';

interface Running {
  app: INestApplication;
  transport: InProcessTransport;
  events: Envelope[];
}

const udidOf = (n: number): string => `00008110-${String(n).padStart(16, '0')}`;
const newToken = (): Buffer => randomBytes(32);
const b64 = (bytes: Buffer): string => bytes.toString('base64');

function configFor(dataDir: string, key: Buffer): TurnaroundConfig {
  return loadConfig({ TURNAROUND_DATA_DIR: dataDir, TURNAROUND_ESCROW_KEY: b64(key) });
}

async function boot(dataDir: string, key: Buffer): Promise<Running> {
  const transport = new InProcessTransport();
  const events: Envelope[] = [];
  await transport.subscribe('observer', ['escrow.#'], async (envelope) => {
    events.push(envelope);
  });
  const app = await NestFactory.create(EscrowModule.register(configFor(dataDir, key), transport), {
    logger: false,
  });
  app.connectMicroservice({
    strategy: new BusServer('escrow', SERVICE_TRANSPORTS.escrow, transport),
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

function fetchToken(running: Running, udid: string): Promise<unknown> {
  const data = { udid, requestedBy: 'provisioning', reason: 'rts-erase' };

  return running.transport.request(
    createEnvelope(FetchBootstrapToken, 'provisioning', data, { subject: udid }),
    2000,
  );
}

function sql<T = Record<string, unknown>>(
  running: Running,
  query: string,
  params: unknown[] = [],
): Promise<T[]> {
  return running.app.get<DataSource>(getDataSourceToken('escrow')).query(query, params);
}

/** Every form in which the token could be written down, and whether each occurs in `haystack`. */
function leaksOf(haystack: Buffer, token: Buffer): string[] {
  const forms: Record<string, Buffer> = {
    raw: token,
    base64: Buffer.from(token.toString('base64')),
    base64url: Buffer.from(token.toString('base64url')),
    hex: Buffer.from(token.toString('hex')),
    HEX: Buffer.from(token.toString('hex').toUpperCase()),
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

describe('EscrowModule', () => {
  const key = randomBytes(32);
  const logs = captureLogs();
  let dataDir: string;
  let running: Running;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-escrow-'));
    logs.lines.length = 0;
    running = await boot(dataDir, key);
  });

  afterEach(async () => {
    await stop(running);
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterAll(() => logs.restore());

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
      'SELECT version, iv, ciphertext, authTag, fingerprint, retiredBecause FROM bootstrap_token_versions WHERE udid = ? ORDER BY version',
      [udid],
    );
    expect(rows).toEqual([
      {
        version: 1,
        iv: null,
        ciphertext: null,
        authTag: null,
        fingerprint: null,
        retiredBecause: 'replaced',
      },
      {
        version: 2,
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
    running = await boot(dataDir, key);

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
    running = await boot(dataDir, key);
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
    const sealer = running.app.get(TokenSealer);
    const access = { requestedBy: 'test', reason: 'race', source: 'checkin', messageId: 'm' };
    const incoming = (udid: string, token: Buffer) => ({
      fingerprint: sealer.fingerprint(udid, token),
      sealAs: (version: number) => sealer.seal({ udid, version }, token),
    });
    const udid = udidOf(21);
    const tokens = Array.from({ length: 6 }, newToken);

    const outcomes = await Promise.all([
      ...tokens.map((token) => repository.escrow(udid, incoming(udid, token), access)),
      repository.clear(udidOf(22), access),
      repository.fetch(udidOf(23), access),
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
    const config = { ...configFor(dataDir, key), escrowKey: randomBytes(16) };

    expect(() => EscrowModule.register(config, new InProcessTransport())).toThrow(EscrowKeyError);
  });
});
