import { randomBytes, randomUUID } from 'node:crypto';

import {
  CommandDelivered,
  CommandFailed,
  RenderReturnToServiceProfiles,
} from '@turnaround/contracts';
import { decodePlist, isPlistDict } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import {
  captureLogs,
  commandIn,
  CommandsTestApp,
  DeviceAnswer,
  leaksOf,
  TestDevice,
} from '../testing/commands-test-app.js';

const harness = new CommandsTestApp();
const logs = captureLogs();

beforeAll(async () => {
  // Every level, so that a profile in a debug line would be caught too.
  await harness.start({ logLevel: 'trace' });
});

afterEach(() => {
  harness.provisioningMode = 'answer';
  harness.escrowMode = 'answer';
});

afterAll(async () => {
  await harness.stop();
  logs.restore();
});

let serial = 0;

/** A device, its enrollment, and the profiles provisioning renders for its cycle. */
async function erasingDevice(): Promise<{
  device: TestDevice;
  enrollmentId: string;
  cycleId: string;
  password: Buffer;
  wifi: Buffer;
  mdm: Buffer;
}> {
  serial += 1;
  const device = await harness.device(`PROFILES-${serial}-${randomUUID().slice(0, 8)}`);
  const enrollmentId = `EP-${serial}`;
  await harness.enroll(device, enrollmentId);
  const cycleId = randomUUID();
  const password = Buffer.from(`network-${randomBytes(9).toString('base64url')}`);
  const wifi = Buffer.from(
    `<?xml version="1.0"?><plist version="1.0"><dict><key>Password</key><string>${password}</string></dict></plist>`,
  );
  const mdm = randomBytes(96);
  harness.cycleProfiles.set(cycleId, { wifiProfileData: wifi, mdmProfileData: mdm });

  return { device, enrollmentId, cycleId, password, wifi, mdm };
}

function rtsErase(cycleId: string) {
  return {
    requestType: 'EraseDevice',
    keys: { ReturnToService: { Enabled: true }, PreserveDataPlan: true },
    attachReturnToServiceProfiles: { cycleId },
  };
}

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

async function tracesOf(secret: Buffer): Promise<string[]> {
  return Object.entries(await harness.everythingKept(logs.lines)).flatMap(([where, haystack]) =>
    leaksOf(haystack, secret).map((form) => `${form} in ${where}`),
  );
}

describe('Return to Service profiles rendered at delivery (issue #4)', () => {
  it('hands the device both profiles as <data> while the queue, its events and logs never hold them', async () => {
    const { device, enrollmentId, cycleId, password, wifi, mdm } = await erasingDevice();
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase(cycleId)]);
    const from = harness.events.length;
    const asked = harness.provisioningRequests.length;

    const answer = await harness.report(device, 'Idle');

    expect(commandIn(answer)).toEqual({ commandUuid: erase, requestType: 'EraseDevice' });
    const rts = returnToServiceIn(answer);
    expect(rts.Enabled).toBe(true);
    expect(Buffer.from(rts.WiFiProfileData as Uint8Array).equals(wifi)).toBe(true);
    expect(Buffer.from(rts.MDMProfileData as Uint8Array).equals(mdm)).toBe(true);
    expect(rts).not.toHaveProperty('BootstrapToken');
    expect(
      harness.provisioningRequests.slice(asked).map((request) => [request.type, request.data]),
    ).toEqual([[RenderReturnToServiceProfiles.routingKey, { udid: device.udid, cycleId }]]);
    expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data)).toEqual([
      { udid: device.udid, enrollmentId, commandUuid: erase, requestType: 'EraseDevice' },
    ]);
    // The capture works and saw the delivery: an empty log would prove nothing.
    expect(
      logs.lines.some((line) => line.includes('"command delivered"') && line.includes(erase!)),
    ).toBe(true);
    expect(await tracesOf(wifi)).toEqual([]);
    expect(await tracesOf(mdm)).toEqual([]);
    expect(await tracesOf(password)).toEqual([]);
  });

  it('answers 503 with Retry-After while provisioning does not answer, and keeps the erase queued', async () => {
    const { device, enrollmentId, cycleId, wifi } = await erasingDevice();
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase(cycleId)]);
    const from = harness.events.length;
    harness.provisioningMode = 'absent';

    const refused = await harness.report(device, 'Idle');

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.body.toString('utf8')).toBe('DEPENDENCY.PROVISIONING_UNAVAILABLE');
    expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);
    expect(
      (await harness.repository.listCommands(enrollmentId)).find((c) => c.commandUuid === erase),
    ).toMatchObject({ state: 'queued', deliveries: 0 });

    harness.provisioningMode = 'answer';
    const retried = await harness.report(device, 'Idle');

    expect(commandIn(retried)?.commandUuid).toBe(erase);
    expect(Buffer.from(returnToServiceIn(retried).WiFiProfileData as Uint8Array).equals(wifi)).toBe(
      true,
    );
  });

  it('fetches the bootstrap token and the profiles when the erase needs both', async () => {
    const { device, enrollmentId, cycleId, wifi } = await erasingDevice();
    const token = randomBytes(32);
    harness.escrowedTokens.set(device.udid, token);
    await harness.enqueue(device.udid, enrollmentId, [
      { ...rtsErase(cycleId), attachBootstrapToken: { reason: `erase for cycle ${cycleId}` } },
    ]);

    const rts = returnToServiceIn(await harness.report(device, 'Idle'));

    expect(Buffer.from(rts.BootstrapToken as Uint8Array).equals(token)).toBe(true);
    expect(Buffer.from(rts.WiFiProfileData as Uint8Array).equals(wifi)).toBe(true);
  });

  it('refuses the erase, never sending it, when its cycle no longer waits for it', async () => {
    const { device, enrollmentId, cycleId } = await erasingDevice();
    const [erase] = await harness.enqueue(device.udid, enrollmentId, [rtsErase(cycleId)]);
    const from = harness.events.length;
    harness.provisioningMode = 'over';

    const answer = await harness.report(device, 'Idle');

    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(harness.eventsOf(CommandDelivered, from)).toEqual([]);
    expect(harness.eventsOf(CommandFailed, from).map((event) => event.data.commandUuid)).toEqual([
      erase,
    ]);
    expect(
      (await harness.repository.listCommands(enrollmentId)).find((c) => c.commandUuid === erase),
    ).toMatchObject({ state: 'refused' });
  });
});
