import * as amqp from 'amqplib';
import pg from 'pg';

import { decodePlist, isPlistDict } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';
import { runSimulation, silentLog } from '@turnaround/simulator';
import { freeLoopbackPort } from '@turnaround/testing';

import { DistributedServices, RABBIT } from './distributed-services.js';
import { ServiceProcess } from './service-process.js';

// Full RTS cycles with app preservation and Activation Lock, on the distributed services (so every
// event crosses RabbitMQ where a test can read it), then a search of everything the services keep
// or say for the secrets the devices handed over: bootstrap tokens and bypass codes.
/** Every way a secret could be written down: raw, base64 (with and without padding), base64url, hex. */
function spellings(secret: Buffer): string[] {
  const base64 = secret.toString('base64');

  return [secret.toString('latin1'), base64, base64.replace(/=+$/, ''), secret.toString('base64url'), secret.toString('hex'), secret.toString('hex').toUpperCase()];
}

function plistOf(body: unknown): PlistDict | null {
  if (!(body instanceof Uint8Array) && typeof body !== 'string') {
    return null;
  }
  try {
    const value = decodePlist(typeof body === 'string' ? Buffer.from(body) : Buffer.from(body));

    return isPlistDict(value) ? value : null;
  } catch {
    return null;
  }
}

describe('secrets handed to the service never leave escrow, after full cycles', () => {
  const services = new DistributedServices('secrets');
  let service: ServiceProcess;
  let connection: Awaited<ReturnType<typeof amqp.connect>> | undefined;
  const events: string[] = [];
  let unlockPort = 0;

  beforeAll(async () => {
    unlockPort = await freeLoopbackPort();
    service = await services.start({
      TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL: `http://127.0.0.1:${unlockPort}/deviceservicesworkers/escrowKeyUnlock`,
      // Every log line there is, so the search covers what a debugging operator would see.
      LOG_LEVEL: 'trace',
    });
    connection = await amqp.connect(RABBIT);
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, `${services.namespace}.events`, '#');
    await channel.consume(queue, (message) => {
      if (message) {
        events.push(message.content.toString('latin1'));
      }
    }, { noAck: true });
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await services.stop();
  }, 60_000);

  it.each([
    ['the service', 'service' as const, 'visionos' as const],
    ['the devices themselves (the ReturnToService check-in)', 'user' as const, 'ios' as const],
  ])('keeps every app through two cycles started by %s, and no token or bypass code shows up in rows, events, logs or API answers', async (_who, trigger, platform) => {
    const tokens: Buffer[] = [];
    const codes: Buffer[] = [];
    const erasesWithToken: Buffer[] = [];
    // The devices' side of the wire is the one place the secrets may appear: note them there.
    const watching = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const sent = plistOf(init?.body);
      if (sent?.MessageType === 'SetBootstrapToken' && sent.BootstrapToken instanceof Uint8Array && sent.BootstrapToken.length > 0) {
        tokens.push(Buffer.from(sent.BootstrapToken));
      }
      if (typeof sent?.ActivationLockBypassCode === 'string') {
        codes.push(Buffer.from(sent.ActivationLockBypassCode));
      }
      const response = await fetch(input, init);
      const answer = plistOf(new Uint8Array(await response.clone().arrayBuffer()));
      // EraseDevice carries the dictionary in its Command; the ReturnToService check-in's answer at the top.
      const command = answer && isPlistDict(answer.Command) ? answer.Command : answer;
      const rts = command && isPlistDict(command.ReturnToService) ? command.ReturnToService : null;
      if (rts?.BootstrapToken instanceof Uint8Array) {
        erasesWithToken.push(Buffer.from(rts.BootstrapToken));
      }

      return response;
    };
    const result = await runSimulation({
      url: service.url,
      apiKey: service.apiKey,
      devices: 4,
      cycles: 2,
      platform,
      trigger,
      preserveApps: true,
      activationLockShare: 0.5,
      unlockPort,
      seed: `secrets-e2e-${trigger}`,
      concurrency: 8,
      timeoutMs: 150_000,
      notNowShare: 0.3,
      log: silentLog,
      fetch: watching as typeof fetch,
    });

    expect(result.enrollment.inService).toBe(4);
    for (const cycle of result.cycleResults) {
      expect(cycle.results.map((entry) => [entry.outcome, entry.reason])).toEqual(Array(4).fill(['returned', undefined]));
    }
    // The second cycle kept every app the first one installed, and downloaded none.
    expect(result.cycleResults[1]!.results.map((entry) => [entry.apps.preserved > 0, entry.apps.downloaded])).toEqual(Array(4).fill([true, 0]));
    // The secrets really crossed: each device escrowed one token, and every erase (or answer to the
    // device's own request) carried it back.
    expect(tokens).toHaveLength(4);
    expect(erasesWithToken).toHaveLength(8);
    for (const carried of erasesWithToken) {
      expect(tokens.some((token) => token.equals(carried))).toBe(true);
    }
    expect(codes.length).toBeGreaterThan(0);

    const headers = { Authorization: `Bearer ${service.apiKey}` };
    const read = async (path: string): Promise<string> => (await fetch(`${service.url}/api/v1${path}`, { headers })).text();
    const devices = (JSON.parse(await read('/devices')) as { udid: string; platform: string }[]).filter((device) => device.platform === platform);
    const answers = [await read('/devices'), await read('/rts-configurations')];
    for (const device of devices) {
      answers.push(await read(`/devices/${device.udid}`), await read(`/devices/${device.udid}/cycles`));
    }
    const client = new pg.Client({ connectionString: services.databaseUrl });
    await client.connect();
    const tables = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
    );
    const rows: string[] = [];
    for (const table of tables.rows) {
      const dump = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${table.schema}"."${table.name}" t`);
      rows.push(...dump.rows.map((entry) => entry.row));
    }
    await client.end();

    const places: Record<string, string> = {
      'database rows': rows.join('\n'),
      events: events.join('\n'),
      logs: service.fullLog,
      'admin API answers': answers.join('\n'),
    };
    // Each place really holds what it should, so an empty search cannot pass.
    const udid = devices[0]!.udid;
    for (const [place, text] of Object.entries(places)) {
      expect({ place, mentionsDevice: text.includes(udid) }).toEqual({ place, mentionsDevice: true });
    }
    for (const secret of [...tokens, ...codes]) {
      for (const spelling of spellings(secret)) {
        for (const [place, text] of Object.entries(places)) {
          expect({ place, leaked: text.includes(spelling) }).toEqual({ place, leaked: false });
        }
      }
    }
  }, 300_000);
});
