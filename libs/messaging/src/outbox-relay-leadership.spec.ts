import 'reflect-metadata';

import pg from 'pg';
import { DataSource } from 'typeorm';

import { MESSAGING_ENTITIES } from '@turnaround/platform';

import { InProcessTransport } from './in-process.transport.js';
import { OutboxRelay } from './outbox-relay.js';

/** One relay per service publishes, also when the leader's lock session dies or it cannot LISTEN. */
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = `turnaround_relay_test_${process.pid}`;
const URL = `postgres://postgres@127.0.0.1:5432/${DATABASE}`;
const ROLE = `turnaround_relay_test_role_${process.pid}`;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) {
      throw new Error(`never happened: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function replica(): Promise<DataSource> {
  return new DataSource({ type: 'postgres', url: URL, schema: 'provisioning', entities: MESSAGING_ENTITIES, synchronize: false, extra: { max: 3, connectionTimeoutMillis: 5_000 } }).initialize();
}

describe('outbox relay leadership on PostgreSQL', () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  const sources: DataSource[] = [];
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    const setup = new pg.Client({ connectionString: URL });
    await setup.connect();
    await setup.query('CREATE SCHEMA provisioning');
    await setup.query('CREATE SCHEMA escrow');
    await setup.end();
    for (const schema of ['provisioning', 'escrow']) {
      const first = await new DataSource({ type: 'postgres', url: URL, schema, entities: MESSAGING_ENTITIES, synchronize: true }).initialize();
      await first.destroy();
    }
  });

  afterAll(async () => {
    await Promise.all(relays.map((relay) => relay.stop()));
    await Promise.all(sources.map((source) => source.destroy().catch(() => undefined)));
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await admin.end();
  });

  it('a relay whose lock session was terminated stops publishing once another relay leads', async () => {
    const [a, b] = [await replica(), await replica()];
    sources.push(a, b);
    const relayA = new OutboxRelay('provisioning', a, new InProcessTransport(), { pollMs: 20 });
    const relayB = new OutboxRelay('provisioning', b, new InProcessTransport(), { pollMs: 20 });
    relays.push(relayA, relayB);
    relayA.start();
    await until(() => relayA.isLeader, 'A leads');
    relayB.start();

    const lockRunner = (relayA as unknown as { lockRunner: { query(sql: string): Promise<{ pid: number }[]> } }).lockRunner;
    const [{ pid }] = await lockRunner.query('SELECT pg_backend_pid() AS pid');
    // An idle-session timeout, a failover or an operator's pg_terminate_backend: the session is gone.
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await until(() => relayB.isLeader, 'B takes over the released lock');
    // Give A a few of its own rounds to notice.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect({ a: relayA.isLeader, b: relayB.isLeader }).not.toEqual({ a: true, b: true });
  });

  it('a relay that took the lock but could not LISTEN either publishes or lets the lock go', async () => {
    // Connections are short (max_connections, a role's limit): the LISTEN client is refused.
    await admin.query(`CREATE ROLE ${ROLE} LOGIN CONNECTION LIMIT 1`);
    await admin.query(`GRANT ALL ON DATABASE ${DATABASE} TO ${ROLE}`);
    const tight = await new DataSource({
      type: 'postgres', url: `postgres://${ROLE}@127.0.0.1:5432/${DATABASE}`, schema: 'escrow', entities: MESSAGING_ENTITIES, synchronize: false, extra: { max: 1, connectionTimeoutMillis: 2_000 },
    }).initialize();
    sources.push(tight);
    const relay = new OutboxRelay('escrow', tight, new InProcessTransport(), { pollMs: 20 });
    relays.push(relay);
    relay.start();
    let holdsLock = false;
    for (let tries = 0; tries < 100 && !holdsLock; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.usename = $1", [ROLE]);
      holdsLock = rows[0].n > 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Holding the one right to publish without publishing stops the outbox for every replica.
    expect({ holdsLock, publishes: relay.isLeader }).not.toEqual({ holdsLock: true, publishes: false });
  });
});
