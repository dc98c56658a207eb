import { PHASES, type PhaseDurations, type PhaseName } from './admin-client.js';
import type { DeviceCycleResult, SimulationResult } from './orchestrator.js';

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export type PhaseTable = Record<PhaseName, Percentiles>;

/** Return to Service with app preservation, device triggers, updates and Activation Lock. */
export interface RtsDetails {
  /** Cycles per trigger as the service recorded it (`service`, `user`, `idle`). */
  triggers: Record<string, number>;
  /** Cycles the service ran with app preservation, and those where it declined it. */
  keptApps: number;
  preservationDeclined: number;
  apps: { preserved: number; downloaded: number; removed: number };
  /** Snapshot phase (DeviceConfigured until the device resumed), over returned devices. */
  snapshot: { device: Percentiles; service: Percentiles };
  /** NotNow answers in the snapshot window: as the devices counted, and as the service did. */
  snapshotNotNow: { device: number; service: number | null };
  softwareUpdates: number;
  activationLockUnlocks: number;
}

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
  rts: RtsDetails;
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
  trigger: string;
  preserveApps: boolean;
  seed: string;
  url: string;
  ok: boolean;
  /** Devices that escrowed a bootstrap token after their first enrollment. */
  bootstrapTokensEscrowed: number;
  /** Devices that have Activation Lock on whenever they are in service. */
  activationLocked: number;
  unlockEndpoint: { url: string; requests: number; cleared: number; refused: number } | null;
  /** Over all cycles. */
  rts: RtsDetails;
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

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function rtsDetails(results: readonly DeviceCycleResult[]): RtsDetails {
  const returned = results.filter((r) => r.outcome === 'returned');
  const triggers: Record<string, number> = {};
  const serviceNotNow = results.flatMap((r) =>
    r.serviceSnapshot?.notNowAnswers === undefined ? [] : [r.serviceSnapshot.notNowAnswers],
  );

  for (const result of results) {
    if (result.cycleId) {
      triggers[result.trigger] = (triggers[result.trigger] ?? 0) + 1;
    }
  }

  return {
    triggers,
    keptApps: results.filter((r) => r.preserveApps === true).length,
    preservationDeclined: results.filter((r) => r.preservationDeclined !== undefined).length,
    apps: {
      preserved: sum(results.map((r) => r.apps.preserved)),
      downloaded: sum(results.map((r) => r.apps.downloaded)),
      removed: sum(results.map((r) => r.apps.removed)),
    },
    snapshot: {
      device: percentiles(
        returned.flatMap((r) =>
          r.devicePhasesMs.snapshot === undefined ? [] : [r.devicePhasesMs.snapshot],
        ),
      ),
      // The phase the service reports, else the snapshot's own duration in the cycle view.
      service: percentiles(
        returned.flatMap((r) => {
          const ms = r.servicePhasesMs.snapshot ?? r.serviceSnapshot?.ms;

          return ms === undefined ? [] : [ms];
        }),
      ),
    },
    snapshotNotNow: {
      device: sum(results.map((r) => r.snapshotNotNow)),
      service: serviceNotNow.length === 0 ? null : sum(serviceNotNow),
    },
    softwareUpdates: sum(results.map((r) => r.softwareUpdates)),
    activationLockUnlocks: sum(results.map((r) => r.unlocks)),
  };
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
      rts: rtsDetails(cycle.results),
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
    trigger: result.trigger,
    preserveApps: result.preserveApps,
    seed: result.seed,
    url: result.url,
    bootstrapTokensEscrowed: result.bootstrapTokensEscrowed,
    activationLocked: result.activationLocked,
    unlockEndpoint: result.unlockEndpoint ?? null,
    rts: rtsDetails(all),
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

const PLATFORM_LABEL: Record<string, string> = {
  ios: 'iOS',
  ipados: 'iPadOS',
  tvos: 'tvOS',
  visionos: 'visionOS',
};

function pair(p: Percentiles): string {
  return `${seconds(p.p50)}/${seconds(p.p95)}`;
}

function triggerText(triggers: Record<string, number>): string {
  const entries = Object.entries(triggers);

  return entries.length === 0 ? '-' : entries.map(([name, n]) => `${name} ${n}`).join(', ');
}

/** Whether the run did anything the RTS details table has to say about. */
function showsRtsDetails(summary: SimulationSummary): boolean {
  const rts = summary.rts;

  return (
    summary.preserveApps ||
    summary.trigger !== 'service' ||
    summary.activationLocked > 0 ||
    summary.unlockEndpoint !== null ||
    rts.softwareUpdates > 0 ||
    rts.keptApps > 0
  );
}

function rtsRow(label: string, rts: RtsDetails): string[] {
  return [
    label,
    triggerText(rts.triggers),
    `${rts.keptApps}/${rts.preservationDeclined}`,
    String(rts.apps.preserved),
    String(rts.apps.downloaded),
    String(rts.apps.removed),
    pair(rts.snapshot.device),
    pair(rts.snapshot.service),
    `${rts.snapshotNotNow.device}/${rts.snapshotNotNow.service ?? '-'}`,
    String(rts.softwareUpdates),
    String(rts.activationLockUnlocks),
  ];
}

/** The human-readable report: one row per cycle on the service's and the devices' clocks. */
export function renderTable(summary: SimulationSummary): string {
  const lines: string[] = [];
  const platform = PLATFORM_LABEL[summary.platform] ?? summary.platform;

  const mode = [
    `${summary.trigger} trigger`,
    ...(summary.preserveApps ? ['app preservation'] : []),
  ].join(', ');

  lines.push(
    `Turnaround simulator: ${summary.devices} ${platform} device(s) x ${summary.cycles} cycle(s) against ${summary.url} (seed ${summary.seed}; ${mode})`,
    `Enrollment: ${summary.enrollment.inService}/${summary.devices} in service in ${seconds(summary.enrollment.wallTimeMs)} s` +
      (summary.preserveApps
        ? `; ${summary.bootstrapTokensEscrowed}/${summary.devices} escrowed a bootstrap token`
        : ''),
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

  if (showsRtsDetails(summary)) {
    lines.push(
      '',
      'Return to Service details: kept = cycles with app preservation/declined; apps preserved, downloaded, removed;',
      'snapshot seconds p50/p95 on the device and the service clock; NotNow in the snapshot window device/service',
    );
    lines.push(
      formatTable([
        [
          'cycle',
          'triggers',
          'kept',
          'preserved',
          'downloaded',
          'removed',
          'snapshot dev',
          'snapshot svc',
          'NotNow',
          'updates',
          'unlocks',
        ],
        ...summary.perCycle.map((c) => rtsRow(String(c.cycle), c.rts)),
        rtsRow('all', summary.rts),
      ]),
    );
    if (summary.activationLocked > 0 || summary.unlockEndpoint) {
      const endpoint = summary.unlockEndpoint;

      lines.push(
        `Activation Lock: ${summary.activationLocked}/${summary.devices} device(s) lock when in service` +
          (endpoint
            ? `; unlock endpoint ${endpoint.url}: ${endpoint.requests} request(s), ${endpoint.cleared} cleared, ${endpoint.refused} refused`
            : '; no unlock endpoint (--unlock-port), so the service cannot clear it'),
      );
    }
  }

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
