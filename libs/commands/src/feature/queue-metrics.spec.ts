import { metricsRegistry } from '@turnaround/platform';

import { commandIn, CommandsTestApp } from '../testing/commands-test-app.js';

const harness = new CommandsTestApp();

beforeAll(async () => {
  await harness.start();
});

afterAll(async () => {
  await harness.stop();
});

/** One metric's series as a scrape would show them, keyed by their labels. */
async function series(name: string): Promise<Map<string, number>> {
  const metric = metricsRegistry().getSingleMetric(name);
  if (!metric) {
    throw new Error(`no metric ${name}`);
  }
  const { values } = await metric.get();

  return new Map(
    values.map((entry) => [JSON.stringify(Object.entries(entry.labels).sort()), entry.value]),
  );
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort());
}

describe('command queue metrics', () => {
  it('reads the queue depth by pending state from the database when scraped', async () => {
    const device = await harness.device('UDID-QUEUE-METRICS');
    await harness.enroll(device, 'E-QM');
    await harness.enqueue(device.udid, 'E-QM', [
      { requestType: 'DeviceInformation' },
      { requestType: 'SecurityInfo' },
      { requestType: 'ProfileList' },
    ]);
    const queued = await series('turnaround_command_queue_depth');

    expect([...queued.entries()].sort()).toEqual([
      [key({ state: 'delivered' }), 0],
      [key({ state: 'not-now' }), 0],
      [key({ state: 'queued' }), 3],
    ]);

    const first = commandIn(await harness.report(device, 'Idle'))!;
    await harness.report(device, 'Acknowledged', first.commandUuid);
    const second = commandIn(await harness.report(device, 'Idle'))!;
    await harness.report(device, 'NotNow', second.commandUuid);
    const after = await series('turnaround_command_queue_depth');

    // One finished (not counted), one answered NotNow; the third went out after the NotNow.
    expect(after.get(key({ state: 'queued' }))).toBe(0);
    expect(after.get(key({ state: 'not-now' }))).toBe(1);
    expect(after.get(key({ state: 'delivered' }))).toBe(1);
  });

  it('counts command URL requests by the Status the device reported, and an unsigned one as none', async () => {
    const device = await harness.device('UDID-REQUEST-METRICS');
    await harness.enroll(device, 'E-RM');
    const before = await series('turnaround_device_requests_total');
    await harness.report(device, 'Idle');
    await harness.report(device, 'Idle');
    expect((await harness.report(device, 'Bogus')).status).toBe(400);
    expect((await harness.send(Buffer.from('<plist/>'), null)).status).toBe(400);
    const after = await series('turnaround_device_requests_total');
    const delta = (labels: Record<string, string>): number =>
      (after.get(key(labels)) ?? 0) - (before.get(key(labels)) ?? 0);

    expect(delta({ endpoint: 'command', message_type: 'Idle', status: '200' })).toBe(2);
    // A Status outside the protocol is refused while the report is read: no type is known then.
    expect(delta({ endpoint: 'command', message_type: 'none', status: '400' })).toBe(2);
  });
});
