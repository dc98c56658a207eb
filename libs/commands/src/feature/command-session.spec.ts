import { randomUUID } from 'node:crypto';

import {
  CommandAcknowledged,
  CommandDelivered,
  CommandFailed,
  CommandNotNow,
} from '@turnaround/contracts';
import { encodePlistXml } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import {
  CLIENT_CERT_HEADER,
  commandIn,
  CommandsTestApp,
  TestDevice,
} from '../testing/commands-test-app.js';

const harness = new CommandsTestApp();

beforeAll(async () => {
  await harness.start();
});

afterAll(async () => {
  await harness.stop();
});

let serial = 0;

/** A device with a fresh enrollment of its own, known to the fake check-in service. */
async function enrolledDevice(): Promise<{ device: TestDevice; enrollmentId: string }> {
  serial += 1;
  const device = await harness.device(`UDID-${serial}-${randomUUID().slice(0, 8)}`);
  const enrollmentId = `E-${serial}`;
  await harness.enroll(device, enrollmentId);

  return { device, enrollmentId };
}

async function stateOf(enrollmentId: string, commandUuid: string): Promise<string | undefined> {
  const commands = await harness.repository.listCommands(enrollmentId);

  return commands.find((command) => command.commandUuid === commandUuid)?.state;
}

describe('command URL', () => {
  describe('answers', () => {
    it('answers Idle on an empty queue with a zero-byte 200, not an empty plist', async () => {
      const { device } = await enrolledDevice();

      const answer = await harness.report(device, 'Idle');

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(answer.headers.get('content-length')).toBe('0');
    });

    it('answers an Idle with nothing pending without writing anything but the time it was seen', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      await harness.lastSeen.flush();
      const before = await harness.tableRows();
      const from = harness.events.length;

      const answer = await harness.report(device, 'Idle');

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(harness.events.length).toBe(from);
      expect(await harness.tableRows()).toEqual(before);
      expect(await harness.lastSeen.flush()).toBe(1);
      const enrollment = (await harness.tableRows())['enrollments']!.find(
        (row) => row['enrollmentId'] === enrollmentId,
      );
      expect(enrollment?.['lastSeenAt']).not.toBeNull();
    });

    it('still opens a session and delivers when an Idle finds a command queued', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      expect((await harness.report(device, 'Idle')).body.length).toBe(0);
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);
      const sessionOf = async () =>
        (await harness.tableRows())['enrollments']!.find(
          (row) => row['enrollmentId'] === enrollmentId,
        )?.['sessionId'];
      const before = await sessionOf();

      const answer = await harness.report(device, 'Idle');

      expect(commandIn(answer)).toEqual({ commandUuid: uuid, requestType: 'ProfileList' });
      expect(await sessionOf()).not.toBe(before);
    });

    it('answers an Idle of a checked-out enrollment through the queue, which keeps it closed', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      await harness.repository.checkOut(device.udid, enrollmentId);
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);

      const answer = await harness.report(device, 'Idle');

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(await stateOf(enrollmentId, uuid!)).toBe('superseded');
    });

    it('hands out the queued command as {CommandUUID, Command} and publishes CommandDelivered', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'DeviceInformation', keys: { Queries: ['UDID', 'OSVersion'] } },
      ]);
      const from = harness.events.length;

      const answer = await harness.report(device, 'Idle');

      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/xml/);
      expect(commandIn(answer)).toEqual({ commandUuid: uuid, requestType: 'DeviceInformation' });
      expect(answer.body.toString('utf8')).toContain('<string>OSVersion</string>');
      expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data)).toEqual([
        { udid: device.udid, enrollmentId, commandUuid: uuid, requestType: 'DeviceInformation' },
      ]);
      expect(await stateOf(enrollmentId, uuid!)).toBe('delivered');
    });

    it('accepts POST as well as PUT', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);
      const body = encodePlistXml({ UDID: device.udid, Status: 'Idle' });

      const answer = await harness.send(body, device, { method: 'POST' });

      expect(answer.status).toBe(200);
      expect(commandIn(answer)?.commandUuid).toBe(uuid);
    });

    it('answers an Acknowledged with the next command in the same request, then with nothing', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [first, second] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
        { requestType: 'SecurityInfo' },
      ]);

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(first);
      expect(commandIn(await harness.report(device, 'Acknowledged', first))?.commandUuid).toBe(
        second,
      );
      const last = await harness.report(device, 'Acknowledged', second);

      expect(last.status).toBe(200);
      expect(last.body.length).toBe(0);
      expect(await stateOf(enrollmentId, first!)).toBe('acknowledged');
      expect(await stateOf(enrollmentId, second!)).toBe('acknowledged');
    });

    it('keeps an unanswered command at the head and hands it out again on the next Idle', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [first] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
        { requestType: 'SecurityInfo' },
      ]);

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(first);
      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(first);
    });
  });

  describe('results', () => {
    it('finishes a command on Error and publishes CommandFailed with the error chain', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'RemoveProfile' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      const answer = await harness.report(device, 'Error', uuid, {
        ErrorChain: [
          {
            ErrorCode: 12021,
            ErrorDomain: 'MCMDMErrorDomain',
            LocalizedDescription: 'Top',
            USEnglishDescription: 'Top',
          },
          { ErrorCode: -909, ErrorDomain: 'NSOSStatusErrorDomain', LocalizedDescription: 'Cause' },
        ],
      });

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(harness.eventsOf(CommandFailed, from).map((event) => event.data)).toEqual([
        {
          udid: device.udid,
          enrollmentId,
          commandUuid: uuid,
          requestType: 'RemoveProfile',
          status: 'Error',
          errors: [
            { code: 12021, domain: 'MCMDMErrorDomain', description: 'Top' },
            { code: -909, domain: 'NSOSStatusErrorDomain', description: 'Cause' },
          ],
        },
      ]);
      expect(await stateOf(enrollmentId, uuid!)).toBe('error');
    });

    it('treats CommandFormatError as final, so a malformed command is not handed out forever', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'Settings' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      await harness.report(device, 'CommandFormatError', uuid);
      const next = await harness.report(device, 'Idle');

      expect(next.body.length).toBe(0);
      expect(harness.eventsOf(CommandFailed, from)[0]?.data).toMatchObject({
        commandUuid: uuid,
        status: 'CommandFormatError',
        errors: [],
      });
      expect(await stateOf(enrollmentId, uuid!)).toBe('format-error');
    });

    it('publishes inventory facts with CommandAcknowledged for SecurityInfo', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'SecurityInfo' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      await harness.report(device, 'Acknowledged', uuid, {
        SecurityInfo: { PasscodePresent: true, HardwareEncryptionCaps: 3 },
      });

      const [event] = harness.eventsOf(CommandAcknowledged, from);
      expect(event?.data).toMatchObject({
        commandUuid: uuid,
        requestType: 'SecurityInfo',
        facts: { securityInfo: { passcodePresent: true, hardwareEncryptionCaps: 3 } },
      });
    });

    it('publishes no facts for results that are not inventory', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      await harness.report(device, 'Acknowledged', uuid, { ProfileList: [] });

      expect(harness.eventsOf(CommandAcknowledged, from)[0]?.data).not.toHaveProperty('facts');
    });

    it('changes nothing for a repeated report and publishes its event once', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [first, second] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
        { requestType: 'DeviceLock' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      const once = await harness.report(device, 'Acknowledged', first);
      const twice = await harness.report(device, 'Acknowledged', first);

      expect(twice.status).toBe(200);
      expect(commandIn(once)?.commandUuid).toBe(second);
      expect(commandIn(twice)?.commandUuid).toBe(second);
      expect(harness.eventsOf(CommandAcknowledged, from)).toHaveLength(1);
      expect(await stateOf(enrollmentId, first!)).toBe('acknowledged');
    });
  });

  describe('B13: a NotNow never blocks the commands behind it', () => {
    it('hands out DeviceConfigured in the same session after NotNow on DeclarativeManagement', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [profile, ddm, configured] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'InstallProfile', keys: { Payload: Buffer.from('profile') } },
        { requestType: 'DeclarativeManagement' },
        { requestType: 'DeviceConfigured' },
      ]);
      const from = harness.events.length;

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(profile);
      expect(commandIn(await harness.report(device, 'Acknowledged', profile))?.commandUuid).toBe(
        ddm,
      );
      const afterNotNow = await harness.report(device, 'NotNow', ddm);

      expect(commandIn(afterNotNow)).toEqual({
        commandUuid: configured,
        requestType: 'DeviceConfigured',
      });
      expect(harness.eventsOf(CommandNotNow, from).map((event) => event.data.commandUuid)).toEqual([
        ddm,
      ]);
      expect((await harness.report(device, 'Acknowledged', configured)).body.length).toBe(0);
      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(ddm);
    });
  });

  describe('B15: NotNow ping-pong', () => {
    it('ends the session with an empty body once every command got NotNow, and offers them again after Idle', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [c1, c2] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'InstallApplication' },
        { requestType: 'InstallProfile' },
      ]);

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(c1);
      expect(commandIn(await harness.report(device, 'NotNow', c1))?.commandUuid).toBe(c2);
      const end = await harness.report(device, 'NotNow', c2);

      expect(end.status).toBe(200);
      expect(end.body.length).toBe(0);
      expect(await stateOf(enrollmentId, c1!)).toBe('not-now');

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(c1);
      expect(commandIn(await harness.report(device, 'NotNow', c1))?.commandUuid).toBe(c2);
    });

    it('changes nothing for the same NotNow twice in one session', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [c1] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'InstallProfile' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      await harness.report(device, 'NotNow', c1);
      const again = await harness.report(device, 'NotNow', c1);

      expect(again.body.length).toBe(0);
      expect(harness.eventsOf(CommandNotNow, from)).toHaveLength(1);
    });
  });

  describe('B17: reports for commands the queue does not have', () => {
    async function withDelivered() {
      const { device, enrollmentId } = await enrolledDevice();
      const [c1] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);
      await harness.report(device, 'Idle');

      return { device, enrollmentId, c1: c1! };
    }

    it.each<[string, string, string, PlistDict]>([
      ['(a) NotNow for an unknown CommandUUID', 'NotNow', 'UNKNOWN-1', {}],
      ['(b) Acknowledged for an unknown CommandUUID', 'Acknowledged', 'UNKNOWN-2', {}],
      [
        '(c) Error with an empty CommandUUID',
        'Error',
        '',
        { ErrorChain: [{ ErrorCode: 1, ErrorDomain: 'X', LocalizedDescription: 'x' }] },
      ],
      ['(d) Idle that names a CommandUUID', 'Idle', 'STRAY', {}],
    ])(
      '%s: 200 with the next eligible command, nothing changed',
      async (_, status, uuid, extra) => {
        const { device, enrollmentId, c1 } = await withDelivered();
        const from = harness.events.length;

        const answer = await harness.report(device, status, uuid, extra);

        expect(answer.status).toBe(200);
        expect(commandIn(answer)?.commandUuid).toBe(c1);
        expect(await stateOf(enrollmentId, c1)).toBe('delivered');
        const results = [CommandAcknowledged, CommandFailed, CommandNotNow].flatMap((contract) =>
          harness.eventsOf(contract, from),
        );
        expect(results).toEqual([]);
      },
    );

    it('ignores a report on a command of another enrollment', async () => {
      const other = await withDelivered();
      const { device } = await enrolledDevice();
      const from = harness.events.length;

      const answer = await harness.report(device, 'Acknowledged', other.c1);

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(await stateOf(other.enrollmentId, other.c1)).toBe('delivered');
      expect(harness.eventsOf(CommandAcknowledged, from)).toEqual([]);
    });

    it('ignores a result for a command that already finished', async () => {
      const { device, enrollmentId, c1 } = await withDelivered();
      await harness.report(device, 'Acknowledged', c1);
      const from = harness.events.length;

      const answer = await harness.report(device, 'Error', c1);

      expect(answer.status).toBe(200);
      expect(await stateOf(enrollmentId, c1)).toBe('acknowledged');
      expect(harness.eventsOf(CommandFailed, from)).toEqual([]);
    });
  });

  describe('B19: a result payload never blocks the queue', () => {
    it('finishes a DeviceInformation with a NaN real and mistyped values, and hands out the next', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [info, next] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'DeviceInformation' },
        { requestType: 'ProfileList' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;
      const body = Buffer.from(
        `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CommandUUID</key><string>${info}</string>
  <key>QueryResponses</key>
  <dict>
    <key>BatteryLevel</key><real>nan</real>
    <key>DeviceCapacity</key><string>lots</string>
    <key>IsSupervised</key><string>not supported</string>
    <key>OSVersion</key><integer>17</integer>
    <key>LastCloudBackupDate</key><date>2024-05-01T10:00:00Z</date>
    <key>ServiceSubscriptions</key><array><dict><key>Slot</key><string>CTSubscriptionSlotOne</string></dict></array>
    <key>SomethingNew</key><data>AAEC</data>
  </dict>
  <key>Status</key><string>Acknowledged</string>
  <key>UDID</key><string>${device.udid}</string>
</dict>
</plist>
`,
        'utf8',
      );

      const answer = await harness.send(body, device);

      expect(answer.status).toBe(200);
      expect(commandIn(answer)?.commandUuid).toBe(next);
      expect(await stateOf(enrollmentId, info!)).toBe('acknowledged');
      const [event] = harness.eventsOf(CommandAcknowledged, from);
      expect(event?.data.commandUuid).toBe(info);
      expect(JSON.stringify(event?.data.facts)).not.toContain('NaN');
    });

    it('finishes a SecurityInfo whose result is not even a dictionary', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'SecurityInfo' },
      ]);
      await harness.report(device, 'Idle');

      const answer = await harness.report(device, 'Acknowledged', uuid, {
        SecurityInfo: ['not', 'a', 'dict'],
        RequestType: 42,
      });

      expect(answer.status).toBe(200);
      expect(await stateOf(enrollmentId, uuid!)).toBe('acknowledged');
    });

    it('finishes an Error whose ErrorChain is mistyped', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'InstallProfile' },
      ]);
      await harness.report(device, 'Idle');
      const from = harness.events.length;

      const answer = await harness.report(device, 'Error', uuid, { ErrorChain: 'broken' });

      expect(answer.status).toBe(200);
      expect(await stateOf(enrollmentId, uuid!)).toBe('error');
      expect(harness.eventsOf(CommandFailed, from)[0]?.data.errors).toEqual([]);
    });
  });

  describe('user channel', () => {
    it('answers a user-channel report with a zero-byte 200 and leaves the device queue alone', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);

      const answer = await harness.report(device, 'Idle', undefined, {
        UserID: 'A1B2C3D4-0000-0000-0000-000000000001',
        UserShortName: 'student1',
      });

      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(0);
      expect(await stateOf(enrollmentId, uuid!)).toBe('queued');
    });
  });
});

describe('command URL refusals', () => {
  async function expectRefused(
    answerPromise: Promise<{ status: number }>,
    status = 400,
  ): Promise<void> {
    const answer = await answerPromise;

    expect(answer.status).toBe(status);
  }

  it('refuses an unsigned report with 400, never 401', async () => {
    const { device } = await enrolledDevice();

    await expectRefused(harness.send(encodePlistXml({ UDID: device.udid, Status: 'Idle' }), null));
  });

  it('refuses a report signed by an identity from another CA with 400', async () => {
    const foreign = await harness.foreignDevice('UDID-FOREIGN');
    harness.checkin.set(foreign.fingerprint, { udid: foreign.udid, enrollmentId: 'E-FOREIGN' });

    await expectRefused(harness.report(foreign, 'Idle'));
  });

  it('refuses a signature over other bytes with 400', async () => {
    const { device } = await enrolledDevice();
    const signature = device.signer.sign(encodePlistXml({ UDID: device.udid, Status: 'Idle' }));
    const body = encodePlistXml({ UDID: device.udid, Status: 'Acknowledged', CommandUUID: 'X' });

    await expectRefused(harness.send(body, device, { signature }));
  });

  it('refuses a garbage signature header with 400', async () => {
    const { device } = await enrolledDevice();

    await expectRefused(
      harness.send(encodePlistXml({ UDID: device.udid, Status: 'Idle' }), device, {
        signature: 'not base64 !!',
      }),
    );
  });

  it.each([
    ['a body that is not a plist', Buffer.from('this is not a plist')],
    ['an empty body', Buffer.alloc(0)],
    [
      'a truncated plist',
      Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>Status</key>'),
    ],
    ['a plist that is not a dictionary', encodePlistXml(['Idle'])],
  ])('refuses %s with 400', async (_, body) => {
    const { device } = await enrolledDevice();

    await expectRefused(harness.send(body, device));
  });

  describe('behind a TLS-terminating proxy', () => {
    const forwarded = (device: TestDevice) => ({
      // nginx's $ssl_client_escaped_cert: the PEM, URL-encoded.
      [CLIENT_CERT_HEADER]: encodeURIComponent(device.certificatePem),
    });

    it('knows the device by the client certificate the proxy forwarded, unsigned', async () => {
      const { device, enrollmentId } = await enrolledDevice();
      const [uuid] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);
      const body = encodePlistXml({ UDID: device.udid, Status: 'Idle' });

      const answer = await harness.send(body, null, { headers: forwarded(device) });

      expect(answer.status).toBe(200);
      expect(commandIn(answer)).toEqual({ commandUuid: uuid, requestType: 'ProfileList' });
    });

    it('refuses a forwarded certificate its CA did not issue with 400', async () => {
      const foreign = await harness.foreignDevice('UDID-FOREIGN-PROXY');
      const body = encodePlistXml({ UDID: foreign.udid, Status: 'Idle' });

      await expectRefused(harness.send(body, null, { headers: forwarded(foreign) }));
    });

    it('refuses a request signed by another device than the forwarded certificate with 400', async () => {
      const { device } = await enrolledDevice();
      const { device: other } = await enrolledDevice();
      const body = encodePlistXml({ UDID: device.udid, Status: 'Idle' });

      await expectRefused(harness.send(body, other, { headers: forwarded(device) }));
    });
  });

  it('refuses an unknown Status with 400', async () => {
    const { device } = await enrolledDevice();

    await expectRefused(harness.report(device, 'Bored'));
  });

  it('refuses a report that names another device than its signer with 400', async () => {
    const { device } = await enrolledDevice();
    const body = encodePlistXml({ UDID: 'SOMEONE-ELSE', Status: 'Idle' });

    await expectRefused(harness.send(body, device));
  });

  it('refuses an identity the check-in service does not know with 400 IDENTITY.UNKNOWN', async () => {
    const stranger = await harness.device('UDID-STRANGER');

    const answer = await harness.report(stranger, 'Idle');

    expect(answer.status).toBe(400);
    expect(answer.body.toString('utf8')).toBe('IDENTITY.UNKNOWN');
  });

  it('answers 503 when the check-in service does not answer in time', async () => {
    const late = await harness.device('UDID-LATE');
    harness.checkin.set(late.fingerprint, { udid: late.udid, enrollmentId: 'E-LATE' });
    harness.checkinMode = 'slow';
    try {
      await expectRefused(harness.report(late, 'Idle'), 503);
    } finally {
      harness.checkinMode = 'answer';
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const { device } = await enrolledDevice();
    const body = Buffer.alloc(harness.config.maxBodyBytes + 1, 0x20);

    await expectRefused(harness.send(body, device), 413);
  });

  it('asks the check-in service once per identity and remembers the answer', async () => {
    const device = await harness.device('UDID-REMEMBERED');
    harness.checkin.set(device.fingerprint, { udid: device.udid, enrollmentId: 'E-REMEMBERED' });
    const before = harness.resolveRequests;

    expect((await harness.report(device, 'Idle')).status).toBe(200);
    expect((await harness.report(device, 'Idle')).status).toBe(200);

    expect(harness.resolveRequests - before).toBe(1);
  });
});
