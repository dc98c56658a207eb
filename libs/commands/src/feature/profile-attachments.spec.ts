import { createHash, randomBytes, randomUUID } from 'node:crypto';

import { CommandDelivered, CommandFailed, RenderProfile } from '@turnaround/contracts';
import { decodePlist, encodePlistXml, isPlistDict } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import {
  captureLogs,
  commandIn,
  CommandsTestApp,
  DeviceAnswer,
  EnqueuedTestCommand,
  enqueueEnvelope,
  leaksOf,
  TestDevice,
} from '../testing/commands-test-app.js';

type Attachment = NonNullable<EnqueuedTestCommand['attachProfile']>;

const harness = new CommandsTestApp();
const logs = captureLogs();

beforeAll(async () => {
  // Every level, so that a profile in a debug line would be caught too.
  await harness.start({ logLevel: 'trace' });
});

afterEach(() => {
  harness.provisioningMode = 'answer';
});

afterAll(async () => {
  await harness.stop();
  logs.restore();
});

let serial = 0;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

function profileWith(password: Buffer): Buffer {
  return Buffer.from(
    '<?xml version="1.0"?><plist version="1.0"><dict><key>PayloadContent</key><array><dict>' +
      `<key>Password</key><string>${password}</string></dict></array></dict></plist>`,
  );
}

/** A device in a cycle whose configuration holds one profile with a password in it. */
async function provisioningDevice(source: 'plan' | 'standing-wifi' = 'plan'): Promise<{
  device: TestDevice;
  enrollmentId: string;
  cycleId: string;
  password: Buffer;
  profile: Buffer;
  attachment: Attachment;
}> {
  serial += 1;
  const device = await harness.device(`ATTACH-${serial}-${randomUUID().slice(0, 8)}`);
  const enrollmentId = `EA-${serial}`;
  await harness.enroll(device, enrollmentId);
  const cycleId = randomUUID();
  const password = Buffer.from(`secret-${randomBytes(9).toString('base64url')}`);
  const profile = profileWith(password);
  harness.plannedProfiles.set(cycleId, [profile]);
  const named = source === 'plan' ? { name: 'Corporate Wi-Fi' } : {};

  return {
    device,
    enrollmentId,
    cycleId,
    password,
    profile,
    attachment: { cycleId, profile: { source, ...named, digest: sha256(profile) } },
  };
}

function payloadIn(answer: DeviceAnswer): Buffer {
  const envelope = decodePlist(answer.body);
  if (!isPlistDict(envelope) || !isPlistDict(envelope.Command)) {
    throw new Error('not a command');
  }
  const payload = envelope.Command.Payload;
  if (!(payload instanceof Uint8Array)) {
    throw new Error('no Payload as <data>');
  }

  return Buffer.from(payload);
}

async function stateOf(enrollmentId: string, commandUuid: string) {
  return (await harness.repository.listCommands(enrollmentId)).find(
    (command) => command.commandUuid === commandUuid,
  );
}

/** Where the bytes show up: rows (and their base64 decoding), database files, events, logs. */
async function tracesOf(secret: Buffer): Promise<string[]> {
  const values: Buffer[] = [];
  for (const rows of Object.values(await harness.tableRows())) {
    for (const row of rows) {
      for (const value of Object.values(row)) {
        const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
        values.push(bytes, Buffer.from(bytes.toString('utf8'), 'base64'));
      }
    }
  }
  const kept = {
    rows: Buffer.concat(values),
    files: harness.databaseFiles(),
    events: Buffer.from(JSON.stringify(harness.events)),
    logs: Buffer.from(logs.lines.join('')),
  };

  return Object.entries(kept).flatMap(([where, haystack]) =>
    leaksOf(haystack, secret).map((form) => `${form} in ${where}`),
  );
}

describe('InstallProfile rendered at delivery (issue #4)', () => {
  it.each(['plan', 'standing-wifi'] as const)(
    'hands the device the %s profile as its Payload, while the queue, the events and the logs never hold it',
    async (source) => {
      const { device, enrollmentId, cycleId, password, profile, attachment } =
        await provisioningDevice(source);
      const [install] = await harness.enqueue(device.udid, enrollmentId, [
        { requestType: 'InstallProfile', attachProfile: attachment },
      ]);
      const from = harness.events.length;
      const asked = harness.provisioningRequests.length;

      const answer = await harness.report(device, 'Idle');

      expect(commandIn(answer)).toEqual({ commandUuid: install, requestType: 'InstallProfile' });
      expect(payloadIn(answer).equals(profile)).toBe(true);
      expect(
        harness.provisioningRequests.slice(asked).map((request) => [request.type, request.data]),
      ).toEqual([
        [RenderProfile.routingKey, { udid: device.udid, cycleId, profile: attachment.profile }],
      ]);
      expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data)).toEqual([
        { udid: device.udid, enrollmentId, commandUuid: install, requestType: 'InstallProfile' },
      ]);
      expect(await stateOf(enrollmentId, install!)).toMatchObject({
        state: 'delivered',
        deliveries: 1,
      });
      // The capture works and saw the delivery: an empty log would prove nothing.
      expect(
        logs.lines.some((line) => line.includes('"command delivered"') && line.includes(install!)),
      ).toBe(true);
      // The EnqueueCommands the test published is among the events searched.
      expect(
        harness.events.some((event) => event.type === 'commands.queue.enqueue-requested.v1'),
      ).toBe(true);
      expect(await tracesOf(profile)).toEqual([]);
      expect(await tracesOf(password)).toEqual([]);
    },
  );

  it('answers 503 with Retry-After while provisioning does not answer, and keeps the InstallProfile queued', async () => {
    const { device, enrollmentId, profile, attachment } = await provisioningDevice();
    const [install] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'InstallProfile', attachProfile: attachment },
    ]);
    const from = harness.events.length;
    harness.provisioningMode = 'absent';

    const refused = await harness.report(device, 'Idle');

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.body.toString('utf8')).toBe('DEPENDENCY.PROVISIONING_UNAVAILABLE');
    expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);
    expect(await stateOf(enrollmentId, install!)).toMatchObject({ state: 'queued', deliveries: 0 });

    harness.provisioningMode = 'answer';
    const retried = await harness.report(device, 'Idle');

    expect(commandIn(retried)?.commandUuid).toBe(install);
    expect(payloadIn(retried).equals(profile)).toBe(true);
  });

  it.each([
    [
      'its profile changed since it was queued',
      'its profile changed in the RTS configuration after it was queued',
      (cycleId: string) => harness.plannedProfiles.set(cycleId, [profileWith(Buffer.from('new'))]),
    ],
    [
      'provisioning knows no such cycle of the device',
      'its RTS cycle is not known for the device',
      (cycleId: string) => harness.plannedProfiles.delete(cycleId),
    ],
  ])('refuses the InstallProfile, never sending it, when %s', async (_when, reason, change) => {
    const { device, enrollmentId, cycleId, attachment } = await provisioningDevice();
    const [install, next] = await harness.enqueue(device.udid, enrollmentId, [
      { requestType: 'InstallProfile', attachProfile: attachment },
      { requestType: 'ProfileList' },
    ]);
    change(cycleId);
    const from = harness.events.length;

    const answer = await harness.report(device, 'Idle');

    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);
    expect(harness.eventsOf(CommandFailed, from).map((event) => event.data)).toEqual([
      {
        udid: device.udid,
        enrollmentId,
        commandUuid: install,
        requestType: 'InstallProfile',
        status: 'Refused',
        errors: [{ description: reason }],
      },
    ]);
    expect(await stateOf(enrollmentId, install!)).toMatchObject({ state: 'refused' });
    // The queue goes on with what follows.
    expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(next);
  });

  describe('refuses to queue, dead-lettering the message', () => {
    const reference = (overrides: Partial<Attachment['profile']> = {}): Attachment => ({
      cycleId: randomUUID(),
      profile: { source: 'plan', name: 'Corporate Wi-Fi', digest: 'a'.repeat(64), ...overrides },
    });
    const command = (keys: PlistDict, attachProfile?: Attachment): EnqueuedTestCommand => ({
      commandUuid: randomUUID().toUpperCase(),
      requestType: String(keys.RequestType),
      command: encodePlistXml(keys).toString('base64'),
      ...(attachProfile ? { attachProfile } : {}),
    });
    const install = { RequestType: 'InstallProfile' };
    const withPayload = { ...install, Payload: profileWith(Buffer.from('inline')) };

    it.each([
      [
        'an InstallProfile with neither a Payload nor attachProfile',
        command(install),
        'data.commands[0].command: expected InstallProfile with a Payload',
      ],
      [
        'an InstallProfile with both a Payload and attachProfile',
        command(withPayload, reference()),
        'data.commands[0].command: expected InstallProfile without Payload',
      ],
      [
        'attachProfile on another command',
        command({ RequestType: 'ProfileList' }, reference()),
        'data.commands[0].attachProfile: expected only on an InstallProfile',
      ],
      [
        'a plan profile named by no name',
        command(install, reference({ name: undefined })),
        'data.commands[0].attachProfile.profile.name',
      ],
      [
        'a standing Wi-Fi profile with a name',
        command(install, reference({ source: 'standing-wifi' })),
        'data.commands[0].attachProfile.profile.name',
      ],
      [
        'a digest that is not 64 hex digits',
        command(install, reference({ digest: 'abc' })),
        'data.commands[0].attachProfile.profile.digest',
      ],
    ])('%s', async (_case, entry, reason) => {
      serial += 1;
      const enrollmentId = `EA-BAD-${serial}`;
      const envelope = enqueueEnvelope(`ATTACH-BAD-${serial}`, enrollmentId, [entry]);

      await harness.deliver(envelope);

      expect(await harness.repository.listCommands(enrollmentId)).toEqual([]);
      const letter = harness.transport
        .deadLetters()
        .find((dead) => dead.envelope.id === envelope.id);
      expect(letter?.reason).toContain(reason);
    });

    it('and queues the same InstallProfile with only a Payload (control case)', async () => {
      serial += 1;
      const enrollmentId = `EA-GOOD-${serial}`;

      await harness.deliver(
        enqueueEnvelope(`ATTACH-GOOD-${serial}`, enrollmentId, [command(withPayload)]),
      );

      expect(await harness.repository.listCommands(enrollmentId)).toHaveLength(1);
    });
  });
});
