import { bodyExcerpt, judgeUnlockAnswer, unlockRequest } from './activation-lock.js';

const CODE = 'KV0F-4M7P-QZ2X-9HRT-LC8D';
const device = { serialNumber: 'DMQXK2ABCDEF', productType: 'iPad13,18' };
const requester = { orgName: 'Acme Schools', guid: 'commands' };

describe('unlockRequest', () => {
  it('puts the device in the query and the audit fields and code in the form', () => {
    const { query, form } = unlockRequest(device, requester, CODE);

    expect([...query]).toEqual([
      ['serial', 'DMQXK2ABCDEF'],
      ['productType', 'iPad13,18'],
    ]);
    expect([...form]).toEqual([
      ['orgName', 'Acme Schools'],
      ['guid', 'commands'],
      ['escrowKey', CODE],
    ]);
    expect(query.toString()).not.toContain('KV0F');
  });

  it('adds the cellular identifiers only when the device has them', () => {
    const cellular = unlockRequest(
      { ...device, imei: '35 209900 176148 1', meid: 'A0000000002329' },
      requester,
      CODE,
    );
    const empty = unlockRequest({ ...device, imei: '', meid: '' }, requester, CODE);

    expect(cellular.query.get('imei')).toBe('35 209900 176148 1');
    expect(cellular.query.get('meid')).toBe('A0000000002329');
    expect(empty.query.has('imei')).toBe(false);
    expect(empty.query.has('meid')).toBe(false);
  });
});

describe('judgeUnlockAnswer', () => {
  it.each([200, 201, 204, 299])('counts HTTP %i as cleared', (status) => {
    expect(judgeUnlockAnswer({ kind: 'answered', status, text: 'ok' }, CODE)).toEqual({
      outcome: 'cleared',
    });
  });

  it.each([400, 403, 404, 499])(
    'counts HTTP %i as refused, with the status and the start of the answer',
    (status) => {
      expect(
        judgeUnlockAnswer({ kind: 'answered', status, text: 'Invalid escrow key\n' }, CODE),
      ).toEqual({
        outcome: 'refused',
        detail: `HTTP ${status}: Invalid escrow key`,
      });
    },
  );

  it.each([500, 502, 503, 302, 100])('counts HTTP %i as unavailable', (status) => {
    expect(judgeUnlockAnswer({ kind: 'answered', status, text: '' }, CODE)).toEqual({
      outcome: 'unavailable',
      detail: `HTTP ${status}`,
    });
  });

  it('counts a timeout and an unreachable endpoint as unavailable', () => {
    expect(judgeUnlockAnswer({ kind: 'timed-out', afterMs: 1500 }, CODE)).toEqual({
      outcome: 'unavailable',
      detail: 'unlock endpoint gave no answer within 1500 ms',
    });
    expect(judgeUnlockAnswer({ kind: 'unreachable', reason: 'ECONNREFUSED' }, CODE)).toEqual({
      outcome: 'unavailable',
      detail: 'unlock endpoint unreachable: ECONNREFUSED',
    });
  });
});

describe('bodyExcerpt', () => {
  it('keeps at most 200 characters', () => {
    expect(bodyExcerpt('x'.repeat(5000), CODE)).toHaveLength(200);
  });

  it('turns control characters into spaces, so an answer cannot forge log lines', () => {
    expect(bodyExcerpt('bad\r\n{"level":"info"}\u0000\u001b[31m\u0085\u2028end', CODE)).toBe(
      'bad {"level":"info"} [31m end',
    );
  });

  it.each([
    ['as sent', CODE],
    ['in lower case', CODE.toLowerCase()],
    ['without its dashes', CODE.replaceAll('-', '')],
  ])('never echoes the code %s', (_form, echoed) => {
    const excerpt = bodyExcerpt(`escrowKey=${echoed} rejected`, CODE);

    expect(excerpt).toContain('[redacted]');
    expect(excerpt.toUpperCase()).not.toContain('KV0F');
    expect(excerpt.toUpperCase()).not.toContain('LC8D');
  });

  it('never echoes a code that straddles the 200th character', () => {
    const excerpt = bodyExcerpt(`${'y'.repeat(190)}${CODE}`, CODE);

    expect(excerpt).not.toContain('KV0F');
    expect(excerpt.length).toBeLessThanOrEqual(200);
  });
});
