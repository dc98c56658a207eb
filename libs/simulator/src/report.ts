import { PHASES, type PhaseDurations, type PhaseName } from './admin-client.js';
import type { DeviceCycleResult, SimulationResult } from './orchestrator.js';

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export type PhaseTable = Record<PhaseName, Percentiles>;

export interface CycleSummary {
  cycle: number;
  devices: number;
  returned: number;
  failed: number;
  stalled: number;
  timedOut: number;
  wallTimeMs: number;
  phases: PhaseTable;
  devicePhases: PhaseTable;
  requestsPerDevice: number | null;
}

export interface FailureLine {
  udid: string;
  /** 0 for the first enrollment, then the cycle number. */
  cycle: number;
  outcome: 'failed' | 'stalled' | 'timed-out';
  reason: string;
}

/** The run in numbers; `--json` prints exactly this as one line. */
export interface SimulationSummary {
  devices: number;
  cycles: number;
  platform: string;
  seed: string;
  url: string;
  ok: boolean;
  enrollment: { inService: number; failed: number; wallTimeMs: number };
  returnedToService: { total: number; perCycle: number[] };
  /** Devices that failed (enrollment included); stalled and timed-out are counted apart. */
  failed: number;
  stalled: number;
  timedOut: number;
  /** Milliseconds per phase as the service measured them, over returned devices. */
  phases: PhaseTable;
  /** The same phases on the devices' own clocks. */
  devicePhases: PhaseTable;
  wallTimeMs: number;
  /** Device HTTP requests per returned device and cycle (mean). */
  requestsPerDevicePerCycle: number | null;
  perCycle: CycleSummary[];
  failures: FailureLine[];
}

/** Nearest-rank percentile of ascending values; null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) {
    return null;
  }

  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));

  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);

  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: percentile(sorted, 100) };
}

function phaseTable(
  results: readonly DeviceCycleResult[],
  pick: (r: DeviceCycleResult) => PhaseDurations,
): PhaseTable {
  const table = {} as PhaseTable;

  for (const phase of PHASES) {
    table[phase] = percentiles(
      results.flatMap((result) => {
        const value = pick(result)[phase];

        return value === undefined ? [] : [value];
      }),
    );
  }

  return table;
}

function mean(values: readonly number[]): number | null {
  if (values.length === 0) {
    return null;
  }

  return Math.round((values.reduce((sum, value) => sum + value, 0) / values.length) * 10) / 10;
}

function count(
  results: readonly DeviceCycleResult[],
  outcome: DeviceCycleResult['outcome'],
): number {
  return results.filter((result) => result.outcome === outcome).length;
}

/** Aggregates a run: counts per outcome, phase percentiles, requests per device and cycle. */
export function summarize(result: SimulationResult): SimulationSummary {
  const all = result.cycleResults.flatMap((cycle) => cycle.results);
  const returned = all.filter((r) => r.outcome === 'returned');
  const perCycle = result.cycleResults.map((cycle): CycleSummary => {
    const back = cycle.results.filter((r) => r.outcome === 'returned');

    return {
      cycle: cycle.cycle,
      devices: cycle.devices,
      returned: back.length,
      failed: count(cycle.results, 'failed'),
      stalled: count(cycle.results, 'stalled'),
      timedOut: count(cycle.results, 'timed-out'),
      wallTimeMs: cycle.wallTimeMs,
      phases: phaseTable(back, (r) => r.servicePhasesMs),
      devicePhases: phaseTable(back, (r) => r.devicePhasesMs),
      requestsPerDevice: mean(back.map((r) => r.requests)),
    };
  });
  const failures: FailureLine[] = [
    ...result.enrollment.failures.map((f) => ({
      udid: f.udid,
      cycle: 0,
      outcome: 'failed' as const,
      reason: f.reason,
    })),
    ...all.flatMap((r) =>
      r.outcome === 'returned'
        ? []
        : [{ udid: r.udid, cycle: r.cycle, outcome: r.outcome, reason: r.reason ?? r.outcome }],
    ),
  ];
  const failed = result.enrollment.failures.length + count(all, 'failed');
  const stalled = count(all, 'stalled');
  const timedOut = count(all, 'timed-out');
  const cyclesRun = result.cycleResults.length;

  return {
    devices: result.devices,
    cycles: result.cycles,
    platform: result.platform,
    seed: result.seed,
    url: result.url,
    // A run is good only when every device made every cycle it was asked for.
    ok:
      failures.length === 0 &&
      cyclesRun === result.cycles &&
      returned.length === result.devices * result.cycles,
    enrollment: {
      inService: result.enrollment.inService,
      failed: result.enrollment.failures.length,
      wallTimeMs: result.enrollment.wallTimeMs,
    },
    returnedToService: { total: returned.length, perCycle: perCycle.map((c) => c.returned) },
    failed,
    stalled,
    timedOut,
    phases: phaseTable(returned, (r) => r.servicePhasesMs),
    devicePhases: phaseTable(returned, (r) => r.devicePhasesMs),
    wallTimeMs: result.wallTimeMs,
    requestsPerDevicePerCycle: mean(returned.map((r) => r.requests)),
    perCycle,
    failures,
  };
}

/** The `--json` output: exactly one line. */
export function renderJson(summary: SimulationSummary): string {
  return `${JSON.stringify(summary)}\n`;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(2);
}

function triple(p: Percentiles): string {
  return `${seconds(p.p50)}/${seconds(p.p95)}/${seconds(p.max)}`;
}

/** Left-aligned columns, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];

  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }

  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

const PLATFORM_LABEL: Record<string, string> = { ios: 'iOS', ipados: 'iPadOS', tvos: 'tvOS' };

/** The human-readable report: one row per cycle on the service's and the devices' clocks. */
export function renderTable(summary: SimulationSummary): string {
  const lines: string[] = [];
  const platform = PLATFORM_LABEL[summary.platform] ?? summary.platform;

  lines.push(
    `Turnaround simulator: ${summary.devices} ${platform} device(s) x ${summary.cycles} cycle(s) against ${summary.url} (seed ${summary.seed})`,
    `Enrollment: ${summary.enrollment.inService}/${summary.devices} in service in ${seconds(summary.enrollment.wallTimeMs)} s`,
    '',
    'Service clock, seconds p50/p95/max',
  );

  const head = [
    'cycle',
    'returned',
    'failed',
    'stalled',
    'timed out',
    ...PHASES,
    'wall s',
    'requests/device',
  ];
  const rows = summary.perCycle.map((c) => [
    String(c.cycle),
    `${c.returned}/${c.devices}`,
    String(c.failed),
    String(c.stalled),
    String(c.timedOut),
    ...PHASES.map((phase) => triple(c.phases[phase])),
    seconds(c.wallTimeMs),
    c.requestsPerDevice === null ? '-' : String(c.requestsPerDevice),
  ]);
  const totalRow = [
    'all',
    `${summary.returnedToService.total}/${summary.perCycle.reduce((sum, c) => sum + c.devices, 0)}`,
    String(summary.failed - summary.enrollment.failed),
    String(summary.stalled),
    String(summary.timedOut),
    ...PHASES.map((phase) => triple(summary.phases[phase])),
    seconds(summary.wallTimeMs),
    summary.requestsPerDevicePerCycle === null ? '-' : String(summary.requestsPerDevicePerCycle),
  ];

  lines.push(
    formatTable([head, ...rows, totalRow]),
    '',
    // The device's erase phase starts when the trigger request leaves, so it also shows how
    // long the admin API took to queue the erases.
    'Device clock (from the trigger request), seconds p50/p95/max',
  );
  lines.push(
    formatTable([
      ['cycle', ...PHASES],
      ...summary.perCycle.map((c) => [
        String(c.cycle),
        ...PHASES.map((phase) => triple(c.devicePhases[phase])),
      ]),
      ['all', ...PHASES.map((phase) => triple(summary.devicePhases[phase]))],
    ]),
  );

  if (summary.failures.length > 0) {
    lines.push(
      '',
      `Devices that did not make it (${summary.failures.length}; cycle 0 is the first enrollment)`,
    );
    lines.push(
      formatTable([
        ['cycle', 'udid', 'outcome', 'reason'],
        ...summary.failures.map((f) => [String(f.cycle), f.udid, f.outcome, f.reason]),
      ]),
    );
  }
  if (summary.perCycle.length < summary.cycles) {
    lines.push(
      '',
      `Only ${summary.perCycle.length} of ${summary.cycles} cycles ran: no device was left in service.`,
    );
  }

  lines.push(
    '',
    summary.ok
      ? 'Result: every device returned to service in every cycle.'
      : 'Result: FAILED (see above).',
  );

  return `${lines.join('\n')}\n`;
}
