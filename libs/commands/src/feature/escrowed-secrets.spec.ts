import { randomBytes, randomUUID } from 'node:crypto';

import {
  CommandAcknowledged,
  CommandDelivered,
  FetchBootstrapToken,
  StoreActivationLockBypassCode,
} from '@turnaround/contracts';
import { decodePlist, encodePlistXml, isPlistDict } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import {
  captureLogs,
  commandIn,
  CommandsTestApp,
  DeviceAnswer,
  enqueueEnvelope,
  leaksOf,
  TestDevice,
} from '../testing/commands-test-app.js';

const harness = new CommandsTestApp();
const logs = captureLogs();

beforeAll(async () => {
  // Every level, so that a secret in a debug line would be caught too.
  await harness.start({ logLevel: 'trace' });
  harness.cycleProfiles.set('C-1', { wifiProfileData: WIFI_PROFILE });
});

afterEach(() => {
  harness.escrowMode = 'answer';
  harness.bypassCodeStored = true;
  harness.escrowHook = undefined;
});

afterAll(async () => {
  await harness.stop();
  logs.restore();
});

const WIFI_PROFILE = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict/></plist>');

let serial = 0;

async function enrolledDevice(): Promise<{ device: TestDevice; enrollmentId: string }> {
  serial += 1;
  const device = await harness.device(`SECRETS-${serial}-${randomUUID().slice(0, 8)}`);
  const enrollmentId = `ES-${serial}`;
  await harness.enroll(device, enrollmentId);

  return { device, enrollmentId };
}

function rtsErase(reason = 'rts-cycle C-1') {
  return {
    requestType: 'EraseDevice',
    keys: { ReturnToService: { Enabled: true } },
    attachBootstrapToken: { reason },
    attachReturnToServiceProfiles: { cycleId: 'C-1' },
  };
}

/** The ReturnToService dictionary of the erase a device was handed. */
function returnToServiceIn(answer: DeviceAnswer): PlistDict {
  const envelope = decodePlist(answer.body);
  if (!isPlistDict(envelope) || !isPlistDict(envelope.Command)) {
    throw new Error('not a command');
  }
  const rts = envelope.Command.ReturnToService;
  if (!isPlistDict(rts)) {
    throw new Error('no ReturnToService');
  }

  return rts;
}

async function commandView(enrollmentId: string, commandUuid: string) {
  const commands = await harness.repository.listCommands(enrollmentId);

  return commands.find((command) => command.commandUuid === commandUuid);
}

async function expectNoTraceOf(secret: Buffer): Promise<void> {
  const found = Object.entries(await harness.everythingKept(logs.lines)).flatMap(
    ([where, haystack]) => leaksOf(haystack, secret).map((form) => `${form} in ${where}`),
  );

  expect(found).toEqual([]);
}

describe('bootstrap token rendered at delivery (issue #3)', () => {
  it('puts the escrowed bytes into ReturnToService.BootstrapToken as <data>, and nowhere else', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    const token = randomBytes(32);
    harness.escrowedTokens.set(device.udid, token);
    const [erase] = await harness.enqueue(
      device.udid,
      enrollmentId,
      [rtsErase()],
      'back',
      'cycle-42',
    );
    const fetchesBefore = harness.escrowRequests.length;
    const from = harness.events.length;

    const answer = await harness.report(device, 'Idle');

    expect(answer.status).toBe(200);
    expect(commandIn(answer)).toEqual({ commandUuid: erase, requestType: 'EraseDevice' });
    const rts = returnToServiceIn(answer);
    expect(rts.BootstrapToken).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(rts.BootstrapToken as Uint8Array).equals(token)).toBe(true);
    // B02: base64-encoded exactly once, as <data>, never as <string>.
    expect(answer.body.toString('utf8')).toMatch(
      new RegExp(
        `<key>BootstrapToken</key>\\s*<data>${token.toString('base64').replace(/[+/]/g, '\\$&')}</data>`,
      ),
    );
    expect(rts.Enabled).toBe(true);
    expect(Buffer.from(rts.WiFiProfileData as Uint8Array).equals(WIFI_PROFILE)).toBe(true);

    const fetches = harness.escrowRequests.slice(fetchesBefore);
    expect(
      fetches.map((request) => [
        request.type,
        request.data,
        request.subject,
        request.correlationid,
      ]),
    ).toEqual([
      [
        FetchBootstrapToken.routingKey,
        { udid: device.udid, reason: 'rts-cycle C-1', requestedBy: 'commands' },
        device.udid,
        'cycle-42',
      ],
    ]);
    expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data)).toEqual([
      {
        udid: device.udid,
        enrollmentId,
        commandUuid: erase,
        requestType: 'EraseDevice',
        bootstrapTokenIncluded: true,
      },
    ]);
    expect(await commandView(enrollmentId, erase!)).toMatchObject({
      state: 'delivered',
      deliveries: 1,
    });
  });

  it('leaves no trace of the token in any table, database file, event or log line', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    // A token whose base64 has a + or /, so its base64url spelling differs and is counted apart.
    let token = randomBytes(32);
    while (!/[+/]/.test(token.toString('base64'))) {
      token = randomBytes(32);
    }
    harness.escrowedTokens.set(device.udid, token);
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);

    const answer = await harness.report(device, 'Idle');

    expect(leaksOf(answer.body, token)).toEqual(['base64']);
    expect(
      harness.eventsOf(CommandDelivered).some((event) => event.data.commandUuid === erase),
    ).toBe(true);
    // The capture works and saw the delivery: an empty log would prove nothing.
    expect(
      logs.lines.some(
        (line) =>
          line.includes('"command delivered"') &&
          line.includes(erase!) &&
          line.includes('"bootstrapTokenIncluded":true'),
      ),
    ).toBe(true);
    expect(
      leaksOf(Buffer.concat([randomBytes(4), Buffer.from(token.toString('hex'))]), token),
    ).toEqual(['hex']);
    // The haystacks are real: the erase itself is in the rows, the files, the events and the logs.
    const kept = await harness.everythingKept(logs.lines);
    expect(
      Object.entries(kept)
        .filter(([, bytes]) => !bytes.includes(erase!))
        .map(([where]) => where),
    ).toEqual([]);
    await expectNoTraceOf(token);
  });

  it('fetches nothing when the erase is queued, only when it is handed out', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    harness.escrowedTokens.set(device.udid, randomBytes(32));
    const before = harness.escrowRequests.length;

    const [, erase] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'ProfileList' },
      rtsErase(),
    ]);

    expect(harness.escrowRequests.length).toBe(before);
    const first = await harness.report(device, 'Idle');
    expect(harness.escrowRequests.length).toBe(before);
    const second = await harness.report(device, 'Acknowledged', commandIn(first)!.commandUuid);
    expect(commandIn(second)?.commandUuid).toBe(erase);
    expect(harness.escrowRequests.length).toBe(before + 1);
  });

  it('hands the erase out once, and fetches the token once', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    harness.escrowedTokens.set(device.udid, randomBytes(32));
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);
    const before = harness.escrowRequests.length;

    expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(erase);
    expect((await harness.report(device, 'Idle')).body.length).toBe(0);
    expect(harness.escrowRequests.length - before).toBe(1);
  });

  it('without an escrowed token, sends the erase without the key and says apps will not be kept', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase('no token here')]);
    const from = harness.events.length;
    const linesBefore = logs.lines.length;

    const answer = await harness.report(device, 'Idle');

    expect(commandIn(answer)?.commandUuid).toBe(erase);
    const rts = returnToServiceIn(answer);
    expect(Object.keys(rts).sort()).toEqual(['Enabled', 'WiFiProfileData']);
    expect(answer.body.toString('utf8')).not.toContain('BootstrapToken');
    expect(answer.body.toString('utf8')).not.toContain('<data/>');
    expect(
      harness.eventsOf(CommandDelivered, from).map((event) => event.data.bootstrapTokenIncluded),
    ).toEqual([false]);
    const warning = logs.lines
      .slice(linesBefore)
      .find((line) => line.includes('apps will not be preserved'));
    expect(warning).toContain(device.udid);
    expect(warning).toContain(erase);
    expect(await commandView(enrollmentId, erase!)).toMatchObject({
      state: 'delivered',
      deliveries: 1,
    });
  });

  it('treats an empty token from escrow as none', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    harness.escrowedTokens.set(device.udid, Buffer.alloc(0));
    await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);

    const answer = await harness.report(device, 'Idle');

    expect(Object.keys(returnToServiceIn(answer))).not.toContain('BootstrapToken');
  });

  it('puts no bootstrapTokenIncluded on commands that did not ask for a token', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'EraseDevice', keys: { ReturnToService: { Enabled: true } } },
    ]);
    const from = harness.events.length;
    const before = harness.escrowRequests.length;

    expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(erase);
    expect(harness.eventsOf(CommandDelivered, from)[0]?.data).not.toHaveProperty(
      'bootstrapTokenIncluded',
    );
    expect(harness.escrowRequests.length).toBe(before);
  });

  describe('escrow cannot answer', () => {
    it.each<['fail' | 'slow']>([['fail'], ['slow']])(
      'escrow %s: answers 503 with Retry-After, keeps the result it carried, and delivers the erase on the next request',
      async (mode) => {
        const { device, enrollmentId } = await enrolledDevice();
        const token = randomBytes(32);
        harness.escrowedTokens.set(device.udid, token);
        const [inventory, erase] = await harness.enqueue(device.udid, enrollmentId, [
          { requestType: 'SecurityInfo' },
          rtsErase(),
        ]);
        expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(inventory);
        const from = harness.events.length;
        harness.escrowMode = mode;

        const refused = await harness.report(device, 'Acknowledged', inventory, {
          SecurityInfo: { PasscodePresent: true },
        });

        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('30');
        expect(refused.body.toString('utf8')).toBe('DEPENDENCY.ESCROW_UNAVAILABLE');
        // The result was applied and announced; the erase did not go anywhere.
        expect(await commandView(enrollmentId, inventory!)).toMatchObject({
          state: 'acknowledged',
        });
        expect(
          harness.eventsOf(CommandAcknowledged, from).map((event) => event.data.commandUuid),
        ).toEqual([inventory]);
        expect(await commandView(enrollmentId, erase!)).toMatchObject({
          state: 'queued',
          deliveries: 0,
        });
        expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);

        harness.escrowMode = 'answer';
        // The device sends the same report again: the repeat is ignored (B17), the erase goes out.
        const retried = await harness.report(device, 'Acknowledged', inventory, {
          SecurityInfo: { PasscodePresent: true },
        });

        expect(retried.status).toBe(200);
        expect(commandIn(retried)?.commandUuid).toBe(erase);
        expect(
          Buffer.from(returnToServiceIn(retried).BootstrapToken as Uint8Array).equals(token),
        ).toBe(true);
        expect(harness.eventsOf(CommandAcknowledged, from)).toHaveLength(1);
        expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data)).toEqual([
          expect.objectContaining({ commandUuid: erase, bootstrapTokenIncluded: true }),
        ]);
        expect(await commandView(enrollmentId, erase!)).toMatchObject({
          state: 'delivered',
          deliveries: 1,
        });
      },
    );

    it('keeps the erase deliverable across several failed attempts, then sends it on Idle', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      harness.escrowedTokens.set(device.udid, randomBytes(32));
      const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);
      harness.escrowMode = 'fail';

      expect((await harness.report(device, 'Idle')).status).toBe(503);
      expect((await harness.report(device, 'Idle')).status).toBe(503);
      expect(await commandView(enrollmentId, erase!)).toMatchObject({
        state: 'queued',
        deliveries: 0,
      });

      harness.escrowMode = 'answer';
      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(erase);
    });

    it('logs why, without anything escrow said', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);
      harness.escrowMode = 'fail';
      const linesBefore = logs.lines.length;

      await harness.report(device, 'Idle');

      const lines = logs.lines.slice(linesBefore).join('');
      expect(lines).toContain('erase held back');
      expect(lines).toContain('INTERNAL');
      expect(lines).not.toContain('escrow database is unreachable');
    });

    it('sends the erase without the token when escrow says its token cannot be used, rather than block the queue', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      harness.escrowedTokens.set(device.udid, randomBytes(32));
      const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);
      harness.escrowMode = 'broken';
      const eventsBefore = harness.events.length;

      const answer = await harness.report(device, 'Idle');
      expect(answer.status).toBe(200);
      expect(commandIn(answer)?.commandUuid).toBe(erase);
      const sent = decodePlist(answer.body) as PlistDict;
      expect((sent.Command as PlistDict).ReturnToService).not.toHaveProperty('BootstrapToken');
      expect(
        harness.events
          .slice(eventsBefore)
          .find((event) => event.type === CommandDelivered.routingKey)?.data,
      ).toMatchObject({ commandUuid: erase, bootstrapTokenIncluded: false });
      harness.escrowMode = 'answer';
    });
  });

  it('does not send an erase that was superseded while its token was fetched', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    const token = randomBytes(32);
    harness.escrowedTokens.set(device.udid, token);
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase()]);
    const successor = await harness.device(device.udid);
    harness.escrowHook = async () => {
      await harness.enroll(successor, `${enrollmentId}-NEXT`, {
        previousEnrollmentId: enrollmentId,
      });
    };
    const from = harness.events.length;

    const answer = await harness.report(device, 'Idle');

    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);
    expect(await commandView(enrollmentId, erase!)).toMatchObject({
      state: 'superseded',
      deliveries: 0,
    });
    await expectNoTraceOf(token);
  });

  describe('EnqueueCommands refuses a queue row that would hold a secret', () => {
    function erase(
      keys: PlistDict,
      extra: Record<string, unknown> = {},
      requestType = 'EraseDevice',
    ) {
      return {
        commandUuid: randomUUID().toUpperCase(),
        requestType,
        command: encodePlistXml({
          RequestType: keys.RequestType ?? 'EraseDevice',
          ...keys,
        }).toString('base64'),
        ...extra,
      };
    }

    it.each([
      [
        'an erase that carries its token inline',
        erase({ ReturnToService: { Enabled: true, BootstrapToken: randomBytes(32) } }),
      ],
      [
        'attachBootstrapToken on a command that is not an erase',
        erase(
          { RequestType: 'ProfileList' },
          { attachBootstrapToken: { reason: 'x' } },
          'ProfileList',
        ),
      ],
      [
        'attachBootstrapToken on an erase without Return to Service',
        erase({}, { attachBootstrapToken: { reason: 'x' } }),
      ],
      [
        'an erase that carries its Wi-Fi profile inline (issue #4)',
        erase({ ReturnToService: { Enabled: true, WiFiProfileData: WIFI_PROFILE } }),
      ],
      [
        'an erase that carries its enrollment profile inline (issue #4)',
        erase({ ReturnToService: { Enabled: true, MDMProfileData: WIFI_PROFILE } }),
      ],
      [
        'attachReturnToServiceProfiles on a command that is not an erase',
        erase(
          { RequestType: 'ProfileList' },
          { attachReturnToServiceProfiles: { cycleId: 'C-1' } },
          'ProfileList',
        ),
      ],
      [
        'a requestType that is not the RequestType of the command',
        erase({}, {}, 'DeviceInformation'),
      ],
    ])('dead-letters %s and stores nothing', async (_, command) => {
      const { device, enrollmentId } = await enrolledDevice();
      const envelope = enqueueEnvelope(device.udid, enrollmentId, [command]);

      await harness.deliver(envelope);

      expect(await harness.repository.listCommands(enrollmentId)).toEqual([]);
      expect(harness.transport.deadLetters().map((letter) => letter.envelope.id)).toContain(
        envelope.id,
      );
    });
  });
});

describe('ActivationLockBypassCode results', () => {
  const newCode = () => `${randomBytes(4).toString('hex').toUpperCase()}-MK4P-RW9Q-${serial}`;

  async function acknowledgeBypassCode(extra: PlistDict) {
    const { device, enrollmentId } = await enrolledDevice();
    const [bypass, next] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'ActivationLockBypassCode' },
      { requestType: 'ProfileList' },
    ]);
    expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(bypass);
    const from = harness.events.length;
    const requestsBefore = harness.escrowRequests.length;

    const answer = await harness.report(device, 'Acknowledged', bypass, extra);

    return {
      device,
      enrollmentId,
      bypass: bypass!,
      next: next!,
      answer,
      acknowledged: harness.eventsOf(CommandAcknowledged, from),
      requests: harness.escrowRequests.slice(requestsBefore),
    };
  }

  it('hands the code to escrow and says so in the facts, never the code', async () => {
    const code = newCode();

    const result = await acknowledgeBypassCode({ ActivationLockBypassCode: code });

    expect(result.answer.status).toBe(200);
    expect(commandIn(result.answer)?.commandUuid).toBe(result.next);
    expect(result.requests.map((request) => [request.type, request.data, request.subject])).toEqual(
      [
        [
          StoreActivationLockBypassCode.routingKey,
          { udid: result.device.udid, code },
          result.device.udid,
        ],
      ],
    );
    expect(harness.escrowedBypassCodes.get(result.device.udid)).toBe(code);
    expect(result.acknowledged.map((event) => event.data)).toEqual([
      {
        udid: result.device.udid,
        enrollmentId: result.enrollmentId,
        commandUuid: result.bypass,
        requestType: 'ActivationLockBypassCode',
        facts: { bypassCodeEscrowed: true },
      },
    ]);
    expect(
      logs.lines.some(
        (line) => line.includes('"command acknowledged"') && line.includes(result.bypass),
      ),
    ).toBe(true);
    await expectNoTraceOf(Buffer.from(code, 'utf8'));
  });

  it('holds no transaction while escrow stores the code, so other requests go on meanwhile', async () => {
    const other = await enrolledDevice();
    const [waiting] = await harness.enqueue(other.device.udid, other.enrollmentId, [
      { requestType: 'ProfileList' },
    ]);
    let deliveredMeanwhile: string | undefined;
    harness.escrowHook = async () => {
      // Another device's request, with a transaction of its own: on SQLite one left open across
      // this escrow request would make it wait, and escrow would answer too late.
      deliveredMeanwhile = commandIn(await harness.report(other.device, 'Idle'))?.commandUuid;
    };
    try {
      const result = await acknowledgeBypassCode({ ActivationLockBypassCode: newCode() });

      expect(deliveredMeanwhile).toBe(waiting);
      expect(result.acknowledged.map((event) => event.data.facts)).toEqual([
        { bypassCodeEscrowed: true },
      ]);
    } finally {
      harness.escrowHook = undefined;
    }
  });

  it.each<[string, () => void]>([
    ['escrow fails', () => void (harness.escrowMode = 'fail')],
    ['escrow answers too late', () => void (harness.escrowMode = 'slow')],
    ['escrow does not store it', () => void (harness.bypassCodeStored = false)],
  ])(
    'when %s, still finishes the command and reports bypassCodeEscrowed false',
    async (_, breakEscrow) => {
      const code = newCode();
      breakEscrow();
      const linesBefore = logs.lines.length;

      const result = await acknowledgeBypassCode({ ActivationLockBypassCode: code });

      expect(result.answer.status).toBe(200);
      expect(commandIn(result.answer)?.commandUuid).toBe(result.next);
      expect(await commandView(result.enrollmentId, result.bypass)).toMatchObject({
        state: 'acknowledged',
      });
      expect(result.acknowledged.map((event) => event.data.facts)).toEqual([
        { bypassCodeEscrowed: false },
      ]);
      expect(logs.lines.slice(linesBefore).some((line) => line.includes('bypass code not'))).toBe(
        true,
      );
      await expectNoTraceOf(Buffer.from(code, 'utf8'));
    },
  );

  it.each<[string, PlistDict]>([
    ['no code', {}],
    ['an empty code', { ActivationLockBypassCode: '' }],
    ['a code that is not a string', { ActivationLockBypassCode: 42 }],
  ])('with %s, asks escrow nothing and reports bypassCodeEscrowed false', async (_, extra) => {
    const linesBefore = logs.lines.length;
    const result = await acknowledgeBypassCode(extra);

    expect(result.answer.status).toBe(200);
    expect(result.requests).toEqual([]);
    expect(result.acknowledged.map((event) => event.data.facts)).toEqual([
      { bypassCodeEscrowed: false },
    ]);
    const warnings = logs.lines
      .slice(linesBefore)
      .filter((line) => line.includes('bypass code result holds no code'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(result.bypass);
  });

  it('ignores a bypass code in the result of any other command', async () => {
    const { device, enrollmentId } = await enrolledDevice();
    const [profiles] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'ProfileList' },
    ]);
    await harness.report(device, 'Idle');
    const code = newCode();
    const from = harness.events.length;
    const before = harness.escrowRequests.length;

    await harness.report(device, 'Acknowledged', profiles, { ActivationLockBypassCode: code });

    expect(harness.escrowRequests.length).toBe(before);
    expect(harness.eventsOf(CommandAcknowledged, from)[0]?.data).not.toHaveProperty('facts');
    await expectNoTraceOf(Buffer.from(code, 'utf8'));
  });
});
