import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { INestApplication } from '@nestjs/common';

import {
  AwaitConfiguration,
  CommandAcknowledged,
  createEnvelope,
  DeviceEnrolled,
  EnqueueCommands,
  Envelope,
} from '@turnaround/contracts';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig } from '@turnaround/platform';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import type { RtsCycle } from '../data-access/provisioning.repository.js';
import { ProvisioningModule } from '../provisioning.module.js';
import { serveEnrollmentProfiles } from '../testing/enrollment-profiles.js';
import { CycleMetrics } from './cycle-metrics.js';

const WIFI = readFileSync(
  resolve(
    process.cwd(),
    '../shared/fixtures/real/profile/wifi-return-to-service-hidden-any.mobileconfig',
  ),
);

type Samples = Map<string, number>;

/** The RTS cycle metrics of the provisioning service, scraped from its `/metrics`. */
describe('RTS cycle metrics', () => {
  const transport = new InProcessTransport({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
  const published: Envelope<Record<string, unknown>>[] = [];
  let app: INestApplication;
  let url = '';
  let apiKey = '';
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-cycle-metrics-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      TURNAROUND_DATA_DIR: dir,
      PORT: String(port),
    });
    apiKey = config.apiKey;
    await transport.subscribe('observer', [EnqueueCommands.routingKey], async (envelope) => {
      published.push(envelope as Envelope<Record<string, unknown>>);
    });
    await serveEnrollmentProfiles(transport);
    app = await startServices(config, transport, [
      { service: 'provisioning', module: ProvisioningModule.register(config, transport) },
    ]);
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();

    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }

  async function emit<T>(
    contract: { routingKey: string; schema: { parse(v: unknown, p: string): T } },
    data: T,
    udid: string,
  ): Promise<void> {
    await transport.publish(
      createEnvelope(contract as never, 'commands', data as never, { subject: udid }),
    );
    await transport.idle();
  }

  async function enroll(udid: string, enrollmentId: string, awaiting: boolean): Promise<void> {
    await emit(
      DeviceEnrolled,
      {
        udid,
        enrollmentId,
        fresh: true,
        awaitingConfiguration: awaiting,
        userEnrollment: false,
        certificateFingerprint: `fp-${enrollmentId}`,
        platform: 'ios',
        productName: 'iPhone17,1',
        osVersion: '26.1',
      },
      udid,
    );
    if (awaiting) {
      await emit(AwaitConfiguration, { udid, enrollmentId }, udid);
    }
  }

  function queued(udid: string, enrollmentId: string, requestType: string): string {
    const command = published
      .filter((event) => event.subject === udid && event.data.enrollmentId === enrollmentId)
      .flatMap((event) => event.data.commands as { commandUuid: string; requestType: string }[])
      .find((entry) => entry.requestType === requestType);

    return command!.commandUuid;
  }

  /** `/metrics`, as `name{labels}` → value for the RTS series. */
  async function scrape(): Promise<Samples> {
    const text = await (await fetch(`${url}/metrics`)).text();

    return new Map(
      text
        .split('\n')
        .filter((line) => line.startsWith('turnaround_rts_'))
        .map((line) => {
          const at = line.lastIndexOf(' ');

          return [line.slice(0, at), Number(line.slice(at + 1))];
        }),
    );
  }

  it('counts each transition with its trigger, times the phases left, and reads the unfinished cycles', async () => {
    const before = await scrape();
    await api('PUT', '/rts-configurations/metrics', {
      wifiProfile: WIFI.toString('base64'),
      plan: { profiles: [], apps: [] },
    });
    await enroll('UDID-METRICS', 'E1', false);
    const started = await api('POST', '/return-to-service', {
      devices: ['UDID-METRICS'],
      configuration: 'metrics',
    });
    expect(started.status).toBe(202);
    await transport.idle();
    await emit(
      CommandAcknowledged,
      {
        udid: 'UDID-METRICS',
        enrollmentId: 'E1',
        commandUuid: queued('UDID-METRICS', 'E1', 'EraseDevice'),
        requestType: 'EraseDevice',
      },
      'UDID-METRICS',
    );
    const erased = await scrape();
    const moved = (samples: Samples, series: string): number =>
      (samples.get(series) ?? 0) - (before.get(series) ?? 0);

    expect(
      moved(
        erased,
        'turnaround_rts_cycles_total{to_state="erase-queued",trigger="service",preserve_apps="false"}',
      ),
    ).toBe(1);
    expect(
      moved(
        erased,
        'turnaround_rts_cycles_total{to_state="erase-acknowledged",trigger="service",preserve_apps="false"}',
      ),
    ).toBe(1);
    expect(
      moved(erased, 'turnaround_rts_cycle_phase_duration_seconds_count{phase="requested"}'),
    ).toBe(1);
    expect(
      moved(erased, 'turnaround_rts_cycle_phase_duration_seconds_count{phase="erase-queued"}'),
    ).toBe(1);
    expect(erased.get('turnaround_rts_cycles_active{state="erase-acknowledged"}')).toBe(1);
    expect(erased.get('turnaround_rts_cycles_active{state="requested"}')).toBe(0);

    await enroll('UDID-METRICS', 'E2', true);
    await emit(
      CommandAcknowledged,
      {
        udid: 'UDID-METRICS',
        enrollmentId: 'E2',
        commandUuid: queued('UDID-METRICS', 'E2', 'DeviceConfigured'),
        requestType: 'DeviceConfigured',
      },
      'UDID-METRICS',
    );
    const returned = await scrape();

    expect((await api('GET', '/devices/UDID-METRICS/cycles')).json[0].state).toBe(
      'returned-to-service',
    );
    expect(
      moved(
        returned,
        'turnaround_rts_cycles_total{to_state="returned-to-service",trigger="service",preserve_apps="false"}',
      ),
    ).toBe(1);
    expect(
      moved(returned, 'turnaround_rts_cycle_phase_duration_seconds_count{phase="configured"}'),
    ).toBe(1);
    expect(
      [...returned].filter(
        ([series, value]) => series.startsWith('turnaround_rts_cycles_active') && value !== 0,
      ),
    ).toEqual([]);
  });

  it('times a stalled phase once, in full, when the cycle leaves it', async () => {
    const metrics = app.get(CycleMetrics);
    const queuedAt = new Date('2026-01-05T10:00:00Z');
    const cycle = cycleInState('erase-queued', { eraseQueuedAt: queuedAt });
    const stalled = { ...cycle, state: 'stalled' as const, stalledIn: 'erase-queued' as const };
    const before = await scrape();

    metrics.transitioned(cycle, stalled, new Date(queuedAt.getTime() + 600_000));
    metrics.transitioned(
      stalled,
      { ...stalled, state: 'erase-acknowledged', stalledIn: null },
      new Date(queuedAt.getTime() + 1_500_000),
    );
    const after = await scrape();
    const moved = (series: string): number => (after.get(series) ?? 0) - (before.get(series) ?? 0);

    expect(moved('turnaround_rts_cycle_phase_duration_seconds_count{phase="erase-queued"}')).toBe(
      1,
    );
    expect(
      moved('turnaround_rts_cycle_phase_duration_seconds_bucket{le="1200",phase="erase-queued"}'),
    ).toBe(0);
    expect(
      moved('turnaround_rts_cycle_phase_duration_seconds_bucket{le="1800",phase="erase-queued"}'),
    ).toBe(1);
    expect(moved('turnaround_rts_cycle_phase_duration_seconds_count{phase="stalled"}')).toBe(0);
    expect(
      moved('turnaround_rts_cycles_total{to_state="stalled",trigger="user",preserve_apps="true"}'),
    ).toBe(1);
  });
});

function cycleInState(state: RtsCycle['state'], times: Partial<RtsCycle>): RtsCycle {
  const at = new Date('2026-01-05T09:59:00Z');

  return {
    id: 'cycle-stall',
    udid: 'UDID-STALL',
    configurationId: 'c1',
    configurationName: 'standard',
    trigger: 'user',
    state,
    stalledIn: null,
    reason: null,
    enrollmentId: 'E1',
    newEnrollmentId: null,
    eraseCommandUuid: null,
    releaseCommandUuid: null,
    planSteps: '{}',
    mdmProfileBecause: null,
    preserveApps: true,
    preservationDeclined: null,
    snapshotCommandUuid: null,
    lockCheckCommandUuid: null,
    lockCheckedAt: null,
    releaseHeld: false,
    snapshotNotNows: 0,
    snapshotApps: null,
    snapshotStartedAt: null,
    requestedAt: at,
    eraseQueuedAt: null,
    eraseAcknowledgedAt: null,
    provisioningAt: null,
    configuredAt: null,
    returnedAt: null,
    endedAt: null,
    deadlineAt: null,
    releaseDueAt: null,
    updatedAt: at,
    ...times,
  };
}
