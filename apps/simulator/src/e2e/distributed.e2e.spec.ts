import { runSimulation, silentLog } from '@turnaround/simulator';

import { DistributedServices } from './distributed-services.js';
import { ServiceProcess } from './service-process.js';

// Distributed mode end to end: four service processes on this machine's RabbitMQ and
// PostgreSQL, a database and a bus namespace of this run only, removed after.
describe('the distributed services on RabbitMQ and PostgreSQL, end to end', () => {
  const services = new DistributedServices('e2e');
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await services.start();
  }, 120_000);

  afterAll(async () => {
    await services.stop();
  }, 60_000);

  it('returns every simulated device to service in every cycle', async () => {
    const result = await runSimulation({
      url: service.url,
      apiKey: service.apiKey,
      devices: 6,
      cycles: 2,
      platform: 'ios',
      seed: 'distributed-e2e',
      concurrency: 12,
      timeoutMs: 120_000,
      notNowShare: 0.3,
      log: silentLog,
    });

    expect(result.enrollment.inService).toBe(6);
    expect(result.cycleResults).toHaveLength(2);
    for (const cycle of result.cycleResults) {
      expect(cycle.results.map((entry) => [entry.outcome, entry.reason])).toEqual(Array(6).fill(['returned', undefined]));
    }
  }, 180_000);
});
