import { freeLoopbackPort } from '@turnaround/testing';

import { ActivationLock, UNLOCK_PATH, UnlockEndpoint } from './activation-lock.js';

const SERIAL = 'F2LXK0Q7HG';
const PRODUCT = 'RealityDevice14,1';

function form(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  };
}

describe('UnlockEndpoint', () => {
  let lock: ActivationLock;
  let endpoint: UnlockEndpoint;
  let url: string;

  const post = (query: string, init: RequestInit) => fetch(`${url}?${query}`, init);
  const audit = { orgName: 'Turnaround', guid: 'ops@example.org' };

  beforeEach(async () => {
    lock = new ActivationLock(true, PRODUCT);
    endpoint = new UnlockEndpoint((serial) => (serial === SERIAL ? lock : undefined));
    url = await endpoint.start(await freeLoopbackPort());
  });

  afterEach(async () => {
    await endpoint.stop();
  });

  it('listens on the loopback address at Apple path', () => {
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+${UNLOCK_PATH}$`));
  });

  it('clears the lock with the device current code, once', async () => {
    const query = `serial=${SERIAL}&productType=${encodeURIComponent(PRODUCT)}`;
    const answer = await post(query, form({ ...audit, escrowKey: lock.bypassCode }));

    expect(answer.status).toBe(200);
    expect(lock.locked).toBe(false);
    expect(lock.unlocks).toBe(1);
    expect(endpoint.counts).toEqual({ requests: 1, cleared: 1, refused: 0 });
  });

  it('refuses an old code after an erase made a new one', async () => {
    const old = lock.bypassCode;

    lock.erased();
    lock.inService();

    const answer = await post(
      `serial=${SERIAL}&productType=${encodeURIComponent(PRODUCT)}`,
      form({ ...audit, escrowKey: old }),
    );

    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(/current bypass code/);
    expect(lock.locked).toBe(true);
    expect(endpoint.counts.refused).toBe(1);
  });

  it.each([
    ['an unknown serial number', `serial=NOPE&productType=${PRODUCT}`, /unknown serial/],
    ['another product type', `serial=${SERIAL}&productType=iPhone17,1`, /productType/],
    ['no serial number', `productType=${PRODUCT}`, /missing serial/],
  ])('refuses %s', async (_, query, reason) => {
    const answer = await post(query, form({ ...audit, escrowKey: lock.bypassCode }));

    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(reason);
    expect(lock.locked).toBe(true);
  });

  it('needs the audit fields and the key as a form, not JSON', async () => {
    const query = `serial=${SERIAL}&productType=${PRODUCT}`;
    const noAudit = await post(query, form({ escrowKey: lock.bypassCode }));
    const json = await post(query, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...audit, escrowKey: lock.bypassCode }),
    });

    expect(noAudit.status).toBe(400);
    expect(await noAudit.text()).toMatch(/missing orgName, guid/);
    expect(json.status).toBe(400);
    expect(lock.locked).toBe(true);
  });

  it('answers only POST at its path', async () => {
    expect((await fetch(url)).status).toBe(405);
    expect((await fetch(url.replace(UNLOCK_PATH, '/other'), form(audit))).status).toBe(404);
  });
});
