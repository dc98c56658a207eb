import { decodePlist, encodeCommand, encodePlistXml, type PlistDict } from '@turnaround/protocol';
import { freeLoopbackPort } from '@turnaround/testing';

import type { RtsConfigurationInput } from './admin-client.js';
import { createLog } from './log.js';
import type { FetchLike } from './mdm-client.js';
import { runSimulation, type SimulationOptions } from './orchestrator.js';
import { summarize } from './report.js';
import {
  SPEC_BASE,
  specDeviceKeys,
  specEnrollmentProfile,
  withSpecScep,
} from './testing/spec-enrollment-profile.js';

const BASE = SPEC_BASE;

let enrollmentProfile: Buffer;

beforeAll(async () => {
  enrollmentProfile = await specEnrollmentProfile(BASE);
}, 30_000);

interface Cycle {
  id: string;
  udid: string;
  trigger: string;
  state: string;
  reason: string | null;
  preserveApps: boolean;
  requestedAt: number;
  configuredAt?: number;
  returnedAt?: number;
  notNow: number;
}

interface Device {
  udid: string;
  serial: string;
  product: string;
  queue: PlistDict[];
  parked: PlistDict[];
  sent: Map<string, PlistDict>;
  token?: Uint8Array;
  bypassCode?: string;
  assigned?: string;
  cycleId?: string;
}

/**
 * A stand-in for Turnaround, just enough of the admin API and the MDM protocol for the
 * orchestrator: it answers the way the service is specified to (issue #3), not the way it is built.
 */
class FakeTurnaround {
  readonly configurations = new Map<string, RtsConfigurationInput>();
  readonly devices = new Map<string, Device>();
  readonly cycles: Cycle[] = [];
  unlockUrl?: string;
  /** Sends a stale bypass code to the unlock endpoint. */
  staleCode = false;
  private counter = 0;

  readonly fetch: FetchLike = async (url, init) => {
    const path = new URL(url).pathname;
    const body = init.body as Uint8Array | string | undefined;

    if (path.startsWith('/api/v1/')) {
      return this.admin(String(init.method), path.slice('/api/v1/'.length), body as string);
    }
    if (path === '/mdm/enroll') {
      return new Response(enrollmentProfile);
    }

    const message = decodePlist(body as Uint8Array) as PlistDict;

    return path === '/mdm/checkin' ? this.checkIn(message) : this.report(message);
  };

  private id(prefix: string): string {
    this.counter += 1;

    return `${prefix}-${this.counter}`;
  }

  private async admin(method: string, path: string, text: string): Promise<Response> {
    const body = text
      ? (JSON.parse(text) as { devices: string[]; configuration: string })
      : undefined;
    const [kind, key, sub] = path.split('/');

    if (method === 'PUT' && kind === 'rts-configurations' && key) {
      this.configurations.set(key, JSON.parse(text) as RtsConfigurationInput);

      return Response.json({ name: key });
    }
    if (method === 'POST' && kind === 'rts-assignments' && body) {
      return Response.json({
        results: body.devices.map((udid) => {
          const device = this.devices.get(udid);

          if (device) {
            device.assigned = body.configuration;
          }

          return device ? { udid } : { udid, error: { code: 'DEVICE.NOT_FOUND', message: 'no' } };
        }),
      });
    }
    if (method === 'POST' && kind === 'return-to-service' && body) {
      const results = [];

      for (const udid of body.devices) {
        const device = this.devices.get(udid);

        if (device) {
          device.assigned = body.configuration;
          results.push({ udid, cycleId: (await this.startByService(device)).id });
        }
      }

      return Response.json({ results }, { status: 202 });
    }
    if (method === 'GET' && kind === 'devices' && !key) {
      return Response.json(
        [...this.devices.values()].map((device) => {
          const cycle = this.cycles.find((c) => c.id === device.cycleId);

          return {
            udid: device.udid,
            state: cycle?.state ?? 'in-service',
            currentCycle: cycle ? { id: cycle.id, state: cycle.state, reason: cycle.reason } : null,
          };
        }),
      );
    }
    if (method === 'GET' && kind === 'devices' && key && sub === 'cycles') {
      return Response.json(
        this.cycles
          .filter((c) => c.udid === key)
          .reverse()
          .map((c) => this.view(c)),
      );
    }
    if (method === 'GET' && kind === 'cycles' && key) {
      const cycle = this.cycles.find((c) => c.id === key);

      return cycle ? Response.json(this.view(cycle)) : new Response('no', { status: 404 });
    }

    return new Response(`no route ${method} ${path}`, { status: 404 });
  }

  private view(cycle: Cycle): PlistDict {
    const total = (cycle.returnedAt ?? cycle.configuredAt ?? cycle.requestedAt) - cycle.requestedAt;

    return {
      id: cycle.id,
      udid: cycle.udid,
      state: cycle.state,
      reason: cycle.reason as string,
      trigger: cycle.trigger,
      preserveApps: cycle.preserveApps,
      phasesMs: {
        total,
        ...(cycle.preserveApps && cycle.returnedAt && cycle.configuredAt
          ? { snapshot: cycle.returnedAt - cycle.configuredAt }
          : {}),
      },
      ...(cycle.preserveApps ? { snapshot: { notNowAnswers: cycle.notNow } } : {}),
    };
  }

  private configuration(device: Device): RtsConfigurationInput {
    return this.configurations.get(device.assigned ?? '') as RtsConfigurationInput;
  }

  private newCycle(device: Device, trigger: string): Cycle {
    const cycle: Cycle = {
      id: this.id('cycle'),
      udid: device.udid,
      trigger,
      state: 'erase-queued',
      reason: null,
      preserveApps: this.configuration(device).preserveApps === true && device.token !== undefined,
      requestedAt: Date.now(),
      notNow: 0,
    };

    this.cycles.push(cycle);
    device.cycleId = cycle.id;

    return cycle;
  }

  private returnToService(device: Device, cycle: Cycle): PlistDict {
    const rts: PlistDict = {
      Enabled: true,
      WiFiProfileData: Buffer.from(this.configuration(device).wifiProfile, 'base64'),
    };

    if (cycle.preserveApps && device.token) {
      rts['BootstrapToken'] = device.token;
    }

    return rts;
  }

  /** Activation Lock first, as the service must: a lock still on blocks the cycle. */
  private async unlocked(device: Device, cycle: Cycle): Promise<boolean> {
    if (!this.unlockUrl || !device.bypassCode) {
      return true;
    }

    const answer = await fetch(
      `${this.unlockUrl}?serial=${device.serial}&productType=${device.product}`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          orgName: 'Spec',
          guid: 'spec',
          escrowKey: this.staleCode ? 'AAAAA-AAAAA-AAAAA-AAAAA-AAAAA' : device.bypassCode,
        }),
      },
    );

    if (answer.ok) {
      return true;
    }

    cycle.state = 'blocked';
    cycle.reason = `Activation Lock not cleared: ${await answer.text()}`;
    device.cycleId = undefined;

    return false;
  }

  private async startByService(device: Device): Promise<Cycle> {
    const cycle = this.newCycle(device, 'service');

    if (await this.unlocked(device, cycle)) {
      device.queue.push({
        RequestType: 'EraseDevice',
        ReturnToService: this.returnToService(device, cycle),
      });
    }

    return cycle;
  }

  private async checkIn(message: PlistDict): Promise<Response> {
    const udid = String(message['UDID']);
    const device: Device = this.devices.get(udid) ?? {
      udid,
      serial: String(message['SerialNumber'] ?? ''),
      product: String(message['ProductName'] ?? ''),
      queue: [],
      parked: [],
      sent: new Map(),
    };

    this.devices.set(udid, device);
    const type = message['MessageType'];

    if (type === 'TokenUpdate') {
      this.enrolled(device);
    } else if (type === 'SetBootstrapToken') {
      device.token = message['BootstrapToken'] as Uint8Array;
    } else if (type === 'ReturnToService') {
      const refused = encodePlistXml({ ReturnToService: { Enabled: false } });

      if (!device.assigned) {
        return new Response(refused);
      }

      const cycle = this.newCycle(device, 'user');

      if (!(await this.unlocked(device, cycle))) {
        return new Response(refused);
      }

      cycle.state = 'erase-acknowledged';

      return new Response(encodePlistXml({ ReturnToService: this.returnToService(device, cycle) }));
    }

    return new Response(null, { status: 200 });
  }

  private enrolled(device: Device): void {
    const cycle = this.cycles.find((c) => c.id === device.cycleId);

    device.queue = [{ RequestType: 'ActivationLockBypassCode' }];
    if (!cycle) {
      device.queue.push({ RequestType: 'DeviceConfigured' });

      return;
    }

    cycle.state = 'provisioning';
    device.queue.push(
      ...this.configuration(device).plan.apps.map((app) => ({
        RequestType: 'InstallApplication',
        ...app,
      })),
      { RequestType: 'DeviceConfigured' },
      ...(cycle.preserveApps ? [{ RequestType: 'ManagedApplicationList' }] : []),
    );
  }

  private report(message: PlistDict): Response {
    const device = this.devices.get(String(message['UDID'])) as Device;
    const command = device.sent.get(String(message['CommandUUID']));
    const cycle = this.cycles.find((c) => c.id === device.cycleId);
    const type = command?.['RequestType'];

    if (message['Status'] === 'NotNow' && command) {
      device.parked.push(command);
      if (cycle?.state === 'snapshotting') {
        cycle.notNow += 1;
      }

      return new Response(null, { status: 200 });
    }
    if (message['Status'] === 'Idle') {
      device.queue.unshift(...device.parked);
      device.parked = [];
    }
    if (message['Status'] === 'Acknowledged') {
      if (type === 'ActivationLockBypassCode') {
        device.bypassCode = String(message['ActivationLockBypassCode']);
      } else if (type === 'EraseDevice' && cycle) {
        cycle.state = 'erase-acknowledged';
      } else if (type === 'DeviceConfigured' && cycle) {
        cycle.configuredAt = Date.now();
        cycle.state = cycle.preserveApps ? 'snapshotting' : 'returned-to-service';
      } else if (type === 'ManagedApplicationList' && cycle) {
        cycle.state = 'returned-to-service';
      }
      if (cycle?.state === 'returned-to-service') {
        cycle.returnedAt = Date.now();
        device.cycleId = undefined;
      }
    }

    const next = device.queue.shift();

    if (!next) {
      return new Response(null, { status: 200 });
    }

    const commandUuid = this.id('command');

    device.sent.set(commandUuid, next);

    return new Response(encodeCommand(commandUuid, next));
  }
}

function options(
  service: FakeTurnaround,
  overrides: Partial<SimulationOptions>,
): SimulationOptions {
  return {
    url: BASE,
    apiKey: 'spec',
    devices: 3,
    cycles: 2,
    platform: 'ios',
    seed: '7',
    concurrency: 8,
    timeoutMs: 20_000,
    notNowShare: 0,
    statusPollMs: 20,
    fetch: withSpecScep(service.fetch),
    keys: specDeviceKeys,
    log: createLog({ write: () => undefined }, 'silent'),
    timing: {
      busyPollMs: [2, 5],
      idlePollMs: 15,
      busyWindowMs: 20,
      eraseDelayMs: 5,
      networkJoinMs: 5,
      appInstallMs: 5,
      snapshotMs: 40,
      userTriggerMs: [5, 20],
    },
    ...overrides,
  };
}

describe('runSimulation', () => {
  it('runs service-triggered cycles with app preservation and counts the apps', async () => {
    const service = new FakeTurnaround();
    const result = await runSimulation(
      options(service, { preserveApps: true, rotateApps: true, cycles: 3 }),
    );
    const summary = summarize(result);

    expect(summary.ok).toBe(true);
    expect(summary.bootstrapTokensEscrowed).toBe(3);
    expect(service.configurations.get('simulator')?.preserveApps).toBe(true);
    // Cycle 1 keeps nothing (the first enrollment installed nothing) and downloads Pages,
    // Numbers and Keynote; cycle 2 keeps Pages and Numbers and removes Keynote; cycle 3 keeps
    // the two and downloads Keynote again.
    expect(summary.perCycle.map((c) => c.rts.apps)).toEqual([
      { preserved: 0, downloaded: 9, removed: 0 },
      { preserved: 6, downloaded: 0, removed: 3 },
      { preserved: 6, downloaded: 3, removed: 0 },
    ]);
    expect(summary.rts.triggers).toEqual({ service: 9 });
    expect(summary.rts.keptApps).toBe(9);
    expect(summary.rts.snapshot.device.p50).toBeGreaterThan(0);
    expect(summary.rts.snapshot.service.p50).toBeGreaterThan(0);
    expect(summary.rts.snapshotNotNow.device).toBeGreaterThanOrEqual(9);
  }, 30_000);

  it('lets the devices ask for Return to Service themselves and finds their cycles', async () => {
    const service = new FakeTurnaround();
    const result = await runSimulation(
      options(service, { preserveApps: true, trigger: 'user', platform: 'visionos' }),
    );

    expect(result.cycleResults.map((c) => c.results.map((r) => [r.outcome, r.reason]))).toEqual([
      Array(3).fill(['returned', undefined]),
      Array(3).fill(['returned', undefined]),
    ]);
    expect(new Set(result.cycleResults.flatMap((c) => c.results.map((r) => r.cycleId))).size).toBe(
      6,
    );
    expect(
      result.cycleResults[1]?.results.every((r) => r.trigger === 'user' && r.apps.preserved === 2),
    ).toBe(true);
    // visionOS with app preservation: the early-join Wi-Fi and an idle timeout that never fires.
    expect(service.configurations.get('simulator')).toMatchObject({
      temporarySessionTimeout: 3600,
    });
  }, 30_000);

  it('fails devices the service did not assign, and those it answers Enabled false', async () => {
    const service = new FakeTurnaround();
    const run = options(service, { preserveApps: true, trigger: 'user', cycles: 1, devices: 2 });
    const answering = (results: (body: { devices: string[] }) => unknown): FetchLike => {
      return withSpecScep((url, init) =>
        url.endsWith('/api/v1/rts-assignments')
          ? Promise.resolve(Response.json({ results: results(JSON.parse(String(init.body))) }))
          : service.fetch(url, init),
      );
    };
    // No answer for the devices, then an answer that assigns nothing.
    const unassigned = await runSimulation({ ...run, fetch: answering(() => []) });
    const refused = await runSimulation({
      ...options(new FakeTurnaround(), {
        preserveApps: true,
        trigger: 'user',
        cycles: 1,
        devices: 2,
      }),
      fetch: answering((body) => body.devices.map((udid) => ({ udid }))),
    });

    expect(unassigned.cycleResults[0]?.results.map((r) => [r.outcome, r.reason])).toEqual(
      Array(2).fill(['failed', 'not assigned: the service gave no result']),
    );
    expect(refused.cycleResults[0]?.results.map((r) => [r.outcome, r.reason])).toEqual(
      Array(2).fill([
        'failed',
        'the service answered the ReturnToService check-in with Enabled false (Return to Service refused)',
      ]),
    );
  }, 30_000);

  it('clears Activation Lock through the fake unlock endpoint, or reports the device blocked', async () => {
    const port = await freeLoopbackPort();
    const service = new FakeTurnaround();
    const lines: string[] = [];

    service.unlockUrl = `http://127.0.0.1:${port}/deviceservicesworkers/escrowKeyUnlock`;

    const result = await runSimulation(
      options(service, {
        activationLockShare: 1,
        unlockPort: port,
        cycles: 2,
        notice: (line) => lines.push(line),
      }),
    );
    const summary = summarize(result);

    expect(lines.join('\n')).toContain(
      `TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL=${service.unlockUrl}`,
    );
    expect(summary.ok).toBe(true);
    expect(summary.rts.activationLockUnlocks).toBe(6);
    expect(result.unlockEndpoint).toMatchObject({ cleared: 6, refused: 0 });

    const stale = new FakeTurnaround();

    stale.unlockUrl = service.unlockUrl;
    stale.staleCode = true;

    const blocked = await runSimulation(
      options(stale, { activationLockShare: 1, unlockPort: port, cycles: 1, devices: 1 }),
    );
    const erasedLocked = await runSimulation(
      options(new FakeTurnaround(), { activationLockShare: 1, cycles: 1, devices: 1 }),
    );

    expect(blocked.cycleResults[0]?.results[0]).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(/^blocked: Activation Lock not cleared/),
    });
    // Without an unlock URL this fake service erases anyway: the device stops at activation.
    expect(erasedLocked.cycleResults[0]?.results[0]).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(/^stranded: Activation Lock still on after erase/),
    });
  }, 30_000);
});
