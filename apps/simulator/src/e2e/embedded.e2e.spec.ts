import { runSimulation, silentLog } from '@turnaround/simulator';

import { freeLoopbackPort } from '@turnaround/testing';

import { ServiceProcess } from './service-process.js';

// The README's main job: `npm start` (the built embedded default) and the simulator against it.
describe('the embedded default, end to end', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    service = new ServiceProcess('embedded', port);
    await service.start();
  }, 90_000);

  afterAll(async () => {
    await service.stop();
  });

  it('returns every simulated device to service in every cycle, with the phases timed', async () => {
    const result = await runSimulation({
      url: service.url,
      apiKey: service.apiKey,
      devices: 8,
      cycles: 2,
      platform: 'ipados',
      seed: 'embedded-e2e',
      concurrency: 16,
      timeoutMs: 120_000,
      notNowShare: 0.3,
      log: silentLog,
    });

    expect(result.enrollment.inService).toBe(8);
    expect(result.cycleResults).toHaveLength(2);
    for (const cycle of result.cycleResults) {
      expect(cycle.results.map((entry) => [entry.outcome, entry.reason])).toEqual(Array(8).fill(['returned', undefined]));
      for (const entry of cycle.results) {
        expect(Object.keys(entry.servicePhasesMs).sort()).toEqual(['erase', 'provision', 'reenroll', 'total']);
        expect(entry.requests).toBeGreaterThan(0);
      }
    }
    // What the devices reported reached the provisioning service: they are known ADE devices,
    // so the erase carried no MDMProfileData and they re-enrolled through the ADE fetch.
    const headers = { Authorization: `Bearer ${service.apiKey}` };
    const devices = (await (await fetch(`${service.url}/api/v1/devices`, { headers })).json()) as { udid: string; state: string; enrollment: { enrolledViaAde: boolean; supervised: boolean } }[];
    expect(devices.map((device) => [device.state, device.enrollment.enrolledViaAde, device.enrollment.supervised])).toEqual(Array(8).fill(['in-service', true, true]));
    const history = (await (await fetch(`${service.url}/api/v1/devices/${devices[0]!.udid}/cycles`, { headers })).json()) as { state: string; mdmProfileData: string | null }[];
    expect(history.map((cycle) => [cycle.state, cycle.mdmProfileData])).toEqual([['returned-to-service', null], ['returned-to-service', null]]);
  }, 180_000);
});
