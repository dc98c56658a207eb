import type { DeviceCycleResult, SimulationResult } from './orchestrator.js';
import { percentile, percentiles, renderJson, renderTable, summarize } from './report.js';

// What a cycle result says beyond its outcome and phases when nothing RTS-specific happened.
const plain = {
  trigger: 'service',
  apps: { preserved: 0, downloaded: 2, removed: 0 },
  snapshotNotNow: 0,
  softwareUpdates: 0,
  unlocks: 0,
};

function returned(udid: string, cycle: number, totalMs: number, requests = 12): DeviceCycleResult {
  return {
    ...plain,
    udid,
    cycle,
    cycleId: `${udid}-${cycle}`,
    outcome: 'returned',
    servicePhasesMs: {
      erase: totalMs / 4,
      reenroll: totalMs / 4,
      provision: totalMs / 2,
      total: totalMs,
    },
    devicePhasesMs: {
      erase: totalMs / 4,
      reenroll: totalMs / 4,
      provision: totalMs / 2,
      total: totalMs,
    },
    requests,
  };
}

function run(overrides: Partial<SimulationResult> = {}): SimulationResult {
  return {
    url: 'http://127.0.0.1:8080',
    platform: 'ios',
    trigger: 'service',
    preserveApps: false,
    bootstrapTokensEscrowed: 2,
    activationLocked: 0,
    devices: 2,
    cycles: 2,
    seed: '42',
    enrollment: { devices: 2, inService: 2, failures: [], wallTimeMs: 900 },
    cycleResults: [
      {
        cycle: 1,
        devices: 2,
        wallTimeMs: 3000,
        results: [returned('A', 1, 2000, 10), returned('B', 1, 2400, 14)],
      },
      {
        cycle: 2,
        devices: 2,
        wallTimeMs: 3100,
        results: [returned('A', 2, 2200, 11), returned('B', 2, 2600, 13)],
      },
    ],
    wallTimeMs: 7000,
    ...overrides,
  };
}

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);

    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 95)).toBe(7);
  });

  it('sorts its input and is null without values', () => {
    expect(percentiles([30, 10, 20])).toEqual({ p50: 20, p95: 30, max: 30 });
    expect(percentiles([])).toEqual({ p50: null, p95: null, max: null });
  });
});

describe('summarize', () => {
  it('counts returned devices per cycle and aggregates phases over all cycles', () => {
    const summary = summarize(run());

    expect(summary.ok).toBe(true);
    expect(summary.returnedToService).toEqual({ total: 4, perCycle: [2, 2] });
    expect(summary.phases.total).toEqual({ p50: 2200, p95: 2600, max: 2600 });
    expect(summary.perCycle[0]?.phases.total).toEqual({ p50: 2000, p95: 2400, max: 2400 });
    expect(summary.requestsPerDevicePerCycle).toBe(12);
    expect(summary.failures).toEqual([]);
  });

  it('lists every device that did not come back, with its reason, and is not ok', () => {
    const summary = summarize(
      run({
        enrollment: {
          devices: 3,
          inService: 2,
          failures: [{ udid: 'C', reason: 'enrollment failed: HTTP 500' }],
          wallTimeMs: 900,
        },
        devices: 3,
        cycleResults: [
          {
            cycle: 1,
            devices: 2,
            wallTimeMs: 3000,
            results: [
              returned('A', 1, 2000),
              {
                ...plain,
                udid: 'B',
                cycle: 1,
                outcome: 'stalled',
                reason: 'no progress in provisioning',
                servicePhasesMs: { erase: 400 },
                devicePhasesMs: {},
                requests: 30,
              },
            ],
          },
        ],
        cycles: 1,
      }),
    );

    expect(summary.ok).toBe(false);
    expect(summary.failed).toBe(1);
    expect(summary.stalled).toBe(1);
    expect(summary.failures).toEqual([
      { udid: 'C', cycle: 0, outcome: 'failed', reason: 'enrollment failed: HTTP 500' },
      { udid: 'B', cycle: 1, outcome: 'stalled', reason: 'no progress in provisioning' },
    ]);
    // Phases describe returned devices only; a stalled cycle's partial phases would skew them.
    expect(summary.phases.erase).toEqual({ p50: 500, p95: 500, max: 500 });
  });
});

describe('summarize with app preservation', () => {
  const kept = (udid: string, cycle: number, snapshotMs: number): DeviceCycleResult => ({
    ...returned(udid, cycle, 4000),
    trigger: 'idle',
    preserveApps: true,
    apps: { preserved: 2, downloaded: 1, removed: 1 },
    snapshotNotNow: 3,
    serviceSnapshot: { ms: snapshotMs + 50, notNowAnswers: 2 },
    devicePhasesMs: { total: 4000, snapshot: snapshotMs },
    softwareUpdates: 1,
    unlocks: 1,
  });

  it('adds up kept, downloaded and removed apps, updates and unlocks, and times the snapshot', () => {
    const summary = summarize(
      run({
        preserveApps: true,
        trigger: 'idle',
        cycleResults: [
          {
            cycle: 1,
            devices: 2,
            wallTimeMs: 9000,
            results: [kept('A', 1, 800), kept('B', 1, 1200)],
          },
        ],
        cycles: 1,
      }),
    );

    expect(summary.rts).toEqual({
      triggers: { idle: 2 },
      keptApps: 2,
      preservationDeclined: 0,
      apps: { preserved: 4, downloaded: 2, removed: 2 },
      snapshot: {
        device: { p50: 800, p95: 1200, max: 1200 },
        service: { p50: 850, p95: 1250, max: 1250 },
      },
      snapshotNotNow: { device: 6, service: 4 },
      softwareUpdates: 2,
      activationLockUnlocks: 2,
    });
    expect(summary.perCycle[0]?.rts.apps).toEqual({ preserved: 4, downloaded: 2, removed: 2 });

    const text = renderTable(summary);

    expect(text).toContain('idle trigger, app preservation');
    expect(text).toMatch(
      /^1\s+idle 2\s+2\/0\s+4\s+2\s+2\s+0\.80\/1\.20\s+0\.85\/1\.25\s+6\/4\s+2\s+2$/m,
    );
  });

  it('leaves the details table out of a plain run', () => {
    expect(renderTable(summarize(run()))).not.toContain('Return to Service details');
  });
});

describe('renderJson', () => {
  it('prints exactly one line with the documented fields', () => {
    const line = renderJson(summarize(run()));

    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd().includes('\n')).toBe(false);

    const json = JSON.parse(line) as Record<string, unknown>;

    expect(json).toMatchObject({
      devices: 2,
      cycles: 2,
      platform: 'ios',
      returnedToService: { total: 4, perCycle: [2, 2] },
      failed: 0,
      stalled: 0,
      wallTimeMs: 7000,
      requestsPerDevicePerCycle: 12,
      failures: [],
    });
    for (const phase of ['erase', 'reenroll', 'provision', 'total']) {
      expect((json['phases'] as Record<string, unknown>)[phase]).toEqual({
        p50: expect.any(Number),
        p95: expect.any(Number),
        max: expect.any(Number),
      });
    }
  });
});

describe('renderTable', () => {
  it('shows a row per cycle with phases in seconds and the failures with reasons', () => {
    const text = renderTable(
      summarize(
        run({
          cycleResults: [
            {
              cycle: 1,
              devices: 2,
              wallTimeMs: 3000,
              results: [
                returned('A', 1, 2000),
                {
                  ...plain,
                  udid: 'B',
                  cycle: 1,
                  outcome: 'failed',
                  reason: 'stranded: WiFiProfileData is base64 text',
                  servicePhasesMs: {},
                  devicePhasesMs: {},
                  requests: 5,
                },
              ],
            },
          ],
          cycles: 1,
        }),
      ),
    );

    expect(text).toMatch(
      /^cycle\s+returned\s+failed\s+stalled\s+timed out\s+erase\s+reenroll\s+provision\s+total/m,
    );
    expect(text).toMatch(/^1\s+1\/2\s+1\s+0\s+0\s+0\.50\/0\.50\/0\.50/m);
    expect(text).toContain('stranded: WiFiProfileData is base64 text');
    expect(text).toContain('Result: FAILED');
  });
});
