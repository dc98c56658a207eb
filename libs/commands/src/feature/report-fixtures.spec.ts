import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { CommandAcknowledged, CommandFailed, CommandNotNow } from '@turnaround/contracts';
import { decodePlist, isPlistDict } from '@turnaround/protocol';

import { commandIn, CommandsTestApp } from '../testing/commands-test-app.js';

// Real device captures and Apple samples, sent byte for byte as they are.
const REPORTS = resolve(process.cwd(), '../shared/fixtures/real/report');
const FIXTURES = readdirSync(REPORTS)
  .filter((name) => name.endsWith('.plist'))
  .sort();

// The command each capture answers, for captures that do not echo RequestType.
const REQUEST_TYPES: Readonly<Record<string, string>> = {
  availableosupdates: 'AvailableOSUpdates',
  certificatelist: 'CertificateList',
  deviceinformation: 'DeviceInformation',
  devicelock: 'DeviceLock',
  installapplication: 'InstallApplication',
  installedapplicationlist: 'InstalledApplicationList',
  installenterpriseapplication: 'InstallEnterpriseApplication',
  managedapplicationlist: 'ManagedApplicationList',
  profilelist: 'ProfileList',
  securityinfo: 'SecurityInfo',
  settings: 'Settings',
  removeprofile: 'RemoveProfile',
};
const INVENTORY = new Set([
  'DeviceInformation',
  'SecurityInfo',
  'ManagedApplicationList',
  'InstalledApplicationList',
]);

interface Capture {
  bytes: Buffer;
  device: string;
  status: string;
  commandUuid?: string;
  requestType: string;
  errorCount: number;
}

function capture(name: string): Capture {
  const bytes = readFileSync(resolve(REPORTS, name));
  const dict = decodePlist(bytes);
  if (!isPlistDict(dict)) {
    throw new Error(`${name} is not a dictionary`);
  }
  const echoed = typeof dict.RequestType === 'string' ? dict.RequestType : undefined;

  return {
    bytes,
    device: String(dict.UDID ?? dict.EnrollmentID),
    status: String(dict.Status),
    ...(typeof dict.CommandUUID === 'string' ? { commandUuid: dict.CommandUUID } : {}),
    requestType: echoed ?? REQUEST_TYPES[name.split('-')[1] ?? ''] ?? 'InstallProfile',
    errorCount: Array.isArray(dict.ErrorChain) ? dict.ErrorChain.length : 0,
  };
}

const harness = new CommandsTestApp();

beforeAll(async () => {
  await harness.start();
});

afterAll(async () => {
  await harness.stop();
});

describe('real report captures', () => {
  it('covers every capture in the fixtures folder', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(38);
  });

  it.each(FIXTURES)('%s gets a 200 and the right queue effect', async (name) => {
    const report = capture(name);
    // A fresh enrollment per capture: several captures share a UDID or a CommandUUID.
    const enrollmentId = `FIX-${name}`;
    const device = await harness.device(report.device);
    await harness.enroll(device, enrollmentId);

    if (report.status === 'Idle') {
      const [queued] = await harness.enqueue(report.device, enrollmentId, [
        { requestType: 'ProfileList' },
      ]);

      const answer = await harness.send(report.bytes, device);

      expect(answer.status).toBe(200);
      expect(commandIn(answer)?.commandUuid).toBe(queued);

      return;
    }

    await harness.enqueue(report.device, enrollmentId, [
      { commandUuid: report.commandUuid!, requestType: report.requestType },
    ]);
    expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(report.commandUuid);
    const from = harness.events.length;

    const answer = await harness.send(report.bytes, device);

    expect(answer.status).toBe(200);
    const [state] = (await harness.repository.listCommands(enrollmentId)).map(
      (command) => command.state,
    );
    const ref = { commandUuid: report.commandUuid, requestType: report.requestType, enrollmentId };
    switch (report.status) {
      case 'Acknowledged': {
        expect(state).toBe('acknowledged');
        const [event] = harness.eventsOf(CommandAcknowledged, from);
        expect(event?.data).toMatchObject(ref);
        expect(event?.data.facts !== undefined).toBe(INVENTORY.has(report.requestType));
        expect(answer.body.length).toBe(0);
        break;
      }
      case 'Error':
      case 'CommandFormatError': {
        expect(state).toBe(report.status === 'Error' ? 'error' : 'format-error');
        const [event] = harness.eventsOf(CommandFailed, from);
        expect(event?.data).toMatchObject({ ...ref, status: report.status });
        expect(event?.data.errors).toHaveLength(report.errorCount);
        expect(answer.body.length).toBe(0);
        break;
      }
      case 'NotNow': {
        expect(state).toBe('not-now');
        expect(harness.eventsOf(CommandNotNow, from)[0]?.data).toMatchObject(ref);
        expect(answer.body.length).toBe(0);
        break;
      }
      default:
        throw new Error(`unexpected status ${report.status} in ${name}`);
    }
  });
});
