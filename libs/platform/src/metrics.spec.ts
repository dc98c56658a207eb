import {
  deviceRequestTimer,
  metricsRegistry,
  OutboxStatus,
  recordCycleTransition,
  recordDelivery,
  registerActiveCycles,
  registerOutboxMetrics,
} from './metrics.js';
import { redirectLogs, setLogLevel } from './logger.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of one scrape, read line by line as Prometheus would; throws on a line it cannot read. */
async function scrape(): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const line of (await metricsRegistry().metrics()).split('\n')) {
    if (
      line === '' ||
      line.startsWith('# HELP ') ||
      /^# TYPE [a-zA-Z_:][\w:]* (counter|gauge|histogram|summary|untyped)$/.test(line)
    ) {
      continue;
    }
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) {
      throw new Error(`not a sample line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').match(/[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const at = pair.indexOf('=');
      labels[pair.slice(0, at)] = pair.slice(at + 2, -1);
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }

  return samples;
}

function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

describe('process metrics', () => {
  it('keeps one registry per process, with the process metrics under the turnaround_ prefix', async () => {
    const samples = await scrape();

    expect(metricsRegistry()).toBe(metricsRegistry());
    expect(
      samples.some((sample) => sample.name === 'turnaround_process_resident_memory_bytes'),
    ).toBe(true);
    expect(
      samples.some((sample) => sample.name === 'turnaround_nodejs_eventloop_lag_seconds'),
    ).toBe(true);
    expect(samples.some((sample) => sample.name === 'turnaround_process_cpu_seconds_total')).toBe(
      true,
    );
  });

  it('counts device requests by URL, type and status, and a type no device may send as other', async () => {
    const before = await scrape();
    deviceRequestTimer('checkin')('Authenticate', 200);
    deviceRequestTimer('checkin')('<script>', 400);
    deviceRequestTimer('command')(undefined, 400);
    deviceRequestTimer('command')('NotNow', 200);
    const after = await scrape();
    const delta = (labels: Record<string, string>): number =>
      (valueOf(after, 'turnaround_device_requests_total', labels) ?? 0) -
      (valueOf(before, 'turnaround_device_requests_total', labels) ?? 0);

    expect(delta({ endpoint: 'checkin', message_type: 'Authenticate', status: '200' })).toBe(1);
    expect(delta({ endpoint: 'checkin', message_type: 'other', status: '400' })).toBe(1);
    expect(delta({ endpoint: 'command', message_type: 'none', status: '400' })).toBe(1);
    expect(delta({ endpoint: 'command', message_type: 'NotNow', status: '200' })).toBe(1);
    expect(after.some((sample) => sample.labels.message_type === '<script>')).toBe(false);
    expect(
      valueOf(after, 'turnaround_device_request_duration_seconds_count', {
        endpoint: 'command',
        message_type: 'NotNow',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts bus deliveries by group, routing key and outcome, an unknown routing key as other', async () => {
    recordDelivery('provisioning', 'commands.command.acknowledged.v1', 'ack');
    recordDelivery('provisioning', 'made.up.key.v1', 'dead-letter');
    const samples = await scrape();

    expect(
      valueOf(samples, 'turnaround_messages_handled_total', {
        group: 'provisioning',
        type: 'commands.command.acknowledged.v1',
        outcome: 'ack',
      }),
    ).toBe(1);
    expect(
      valueOf(samples, 'turnaround_messages_handled_total', {
        group: 'provisioning',
        type: 'other',
        outcome: 'dead-letter',
      }),
    ).toBe(1);
  });

  it('counts cycle transitions and times the phase left', async () => {
    recordCycleTransition({
      to: 'erase-acknowledged',
      trigger: 'user',
      preserveApps: true,
      left: { phase: 'erase-queued', seconds: 95 },
    });
    recordCycleTransition({ to: 'stalled', trigger: 'user', preserveApps: true });
    const samples = await scrape();

    expect(
      valueOf(samples, 'turnaround_rts_cycles_total', {
        to_state: 'erase-acknowledged',
        trigger: 'user',
        preserve_apps: 'true',
      }),
    ).toBe(1);
    expect(
      valueOf(samples, 'turnaround_rts_cycles_total', {
        to_state: 'stalled',
        trigger: 'user',
        preserve_apps: 'true',
      }),
    ).toBe(1);
    expect(
      valueOf(samples, 'turnaround_rts_cycle_phase_duration_seconds_bucket', {
        phase: 'erase-queued',
        le: '60',
      }),
    ).toBe(0);
    expect(
      valueOf(samples, 'turnaround_rts_cycle_phase_duration_seconds_bucket', {
        phase: 'erase-queued',
        le: '120',
      }),
    ).toBe(1);
    expect(
      valueOf(samples, 'turnaround_rts_cycle_phase_duration_seconds_count', { phase: 'stalled' }),
    ).toBeUndefined();
  });
});

describe('metrics read at scrape time', () => {
  it('reads each outbox once per scrape for both of its gauges, and forgets it once unregistered', async () => {
    // An outbox as its relay sees it: rows staged at some time, published rows removed.
    const staged = [
      { service: 'commands', at: Date.now() - 42_000 },
      { service: 'commands', at: Date.now() - 1_000 },
    ];
    let reads = 0;
    const unregister = registerOutboxMetrics(async (): Promise<OutboxStatus[]> => {
      reads += 1;
      const oldest = Math.min(...staged.map((row) => row.at));

      return [
        {
          service: 'commands',
          pending: staged.length,
          oldestAgeSeconds: staged.length ? (Date.now() - oldest) / 1000 : 0,
        },
      ];
    });
    const samples = await scrape();

    expect(reads).toBe(1);
    expect(valueOf(samples, 'turnaround_outbox_pending', { service: 'commands' })).toBe(2);
    expect(
      valueOf(samples, 'turnaround_outbox_lag_seconds', { service: 'commands' }),
    ).toBeGreaterThanOrEqual(42);

    staged.length = 0;
    expect(valueOf(await scrape(), 'turnaround_outbox_lag_seconds', { service: 'commands' })).toBe(
      0,
    );

    unregister();
    expect(
      valueOf(await scrape(), 'turnaround_outbox_pending', { service: 'commands' }),
    ).toBeUndefined();
  });

  it('adds up the sources of one gauge, and leaves out a source that fails without failing the scrape', async () => {
    const lines: string[] = [];
    const restore = redirectLogs({ write: (line) => void lines.push(line) });
    setLogLevel('warn');
    const first = registerActiveCycles(async () => ({ provisioning: 2, configured: 1 }));
    const second = registerActiveCycles(async () => ({ provisioning: 1 }));
    const broken = registerActiveCycles(async () => {
      throw new Error('database is gone');
    });
    try {
      const samples = await scrape();

      expect(valueOf(samples, 'turnaround_rts_cycles_active', { state: 'provisioning' })).toBe(3);
      expect(valueOf(samples, 'turnaround_rts_cycles_active', { state: 'configured' })).toBe(1);
      expect(lines.map((line) => JSON.parse(line))).toEqual([
        expect.objectContaining({ msg: 'metric source failed', metric: 'rts_cycles_active' }),
      ]);
    } finally {
      first();
      second();
      broken();
      restore();
    }
  });
});
