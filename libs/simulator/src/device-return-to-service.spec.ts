import {
  decodePlist,
  encodeCommand,
  encodePlistXml,
  readMachineInfo,
  type MachineInfo,
  type PlistDict,
} from '@turnaround/protocol';

import { SimulatedDevice, triggerDelayMs, type DeviceTiming } from './device.js';
import { createHardware, newestRelease, type Hardware, type Platform } from './hardware.js';
import { Limiter } from './limiter.js';
import { createLog } from './log.js';
import { DeviceHttp, type FetchLike } from './mdm-client.js';
import { buildWifiProfile } from './rts-profiles.js';
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

interface Delivered {
  commandUuid: string;
  command: PlistDict;
}

/**
 * A scripted MDM service for one device. Commands wait in `queue`; a command answered NotNow
 * is parked and handed out again after the device's next Idle, as a server must (it is not
 * kept by the device). `afterEnrollment` runs on every TokenUpdate with the enrollment count.
 */
class FakeMdm {
  readonly checkIns: (PlistDict & { signed: boolean })[] = [];
  readonly reports: PlistDict[] = [];
  readonly enrollments: MachineInfo[] = [];
  queue: PlistDict[] = [];
  afterEnrollment?: (enrollment: number) => void;
  returnToServiceAnswer: PlistDict = { ReturnToService: { Enabled: false } };
  /** Answer the enrollment fetch 403 until the device runs this OS. */
  requireOs?: { OSVersion: string; BuildVersion?: string };
  /** Answer 403 even to a device that runs the required OS (a broken policy). */
  updateLoop = false;
  private readonly outstanding = new Map<string, Delivered>();
  private parked: PlistDict[] = [];
  private counter = 0;

  readonly fetch: FetchLike = async (url, init) => {
    const headers = init.headers as Record<string, string>;
    const body = init.body as Uint8Array;

    if (url.endsWith('/mdm/enroll')) {
      return this.enroll(body);
    }

    const message = decodePlist(body) as PlistDict;

    if (url.endsWith('/mdm/checkin')) {
      this.checkIns.push({ ...message, signed: typeof headers['Mdm-Signature'] === 'string' });
      if (message['MessageType'] === 'TokenUpdate') {
        this.afterEnrollment?.(this.count('TokenUpdate'));
      }
      if (message['MessageType'] === 'ReturnToService') {
        return new Response(encodePlistXml(this.returnToServiceAnswer), { status: 200 });
      }

      return new Response(null, { status: 200 });
    }

    return this.report(message);
  };

  count(messageType: string): number {
    return this.checkIns.filter((message) => message['MessageType'] === messageType).length;
  }

  /** Results for commands of this RequestType, in order. */
  results(requestType: string): PlistDict[] {
    return this.reports.filter(
      (report) =>
        this.outstanding.get(String(report['CommandUUID']))?.command['RequestType'] === requestType,
    );
  }

  private enroll(body: Uint8Array): Response {
    const info = readMachineInfo(body);

    this.enrollments.push(info);
    if (this.requireOs && (this.updateLoop || info.osVersion !== this.requireOs.OSVersion)) {
      return Response.json(
        { code: 'com.apple.softwareupdate.required', details: this.requireOs },
        { status: 403 },
      );
    }

    return new Response(enrollmentProfile, { status: 200 });
  }

  private report(message: PlistDict): Response {
    this.reports.push(message);

    const uuid = String(message['CommandUUID'] ?? '');

    if (message['Status'] === 'NotNow') {
      const delivered = this.outstanding.get(uuid);

      if (delivered) {
        this.parked.push(delivered.command);
      }

      return new Response(null, { status: 200 });
    }
    if (message['Status'] === 'Idle') {
      this.queue.unshift(...this.parked);
      this.parked = [];
    }

    const command = this.queue.shift();

    if (!command) {
      return new Response(null, { status: 200 });
    }

    this.counter += 1;

    const commandUuid = `CMD-${this.counter}`;

    this.outstanding.set(commandUuid, { commandUuid, command });

    return new Response(encodeCommand(commandUuid, command), { status: 200 });
  }
}

const quick: Partial<DeviceTiming> = {
  busyPollMs: [2, 5],
  idlePollMs: 10,
  busyWindowMs: 20,
  eraseDelayMs: 5,
  networkJoinMs: 5,
  appInstallMs: 10,
  snapshotMs: 60,
  updateDelayMs: 5,
  userTriggerMs: [5, 10],
  idleTimeoutGraceMs: 50,
};

function device(
  mdm: FakeMdm,
  options: { platform?: Platform; hardware?: Hardware; activationLock?: boolean } = {},
): SimulatedDevice {
  return new SimulatedDevice({
    hardware: options.hardware ?? createHardware(options.platform ?? 'ios', 0, 'spec'),
    enrollUrl: `${BASE}/mdm/enroll`,
    http: new DeviceHttp({
      limiter: new Limiter(4),
      log: createLog({ write: () => undefined }, 'silent'),
      fetch: withSpecScep(mdm.fetch),
      maxAttempts: 2,
      firstBackoffMs: 1,
      maxBackoffMs: 2,
    }),
    log: createLog({ write: () => undefined }, 'silent'),
    responder: { notNowShare: 0, seed: 'spec' },
    timing: quick,
    activationLock: options.activationLock === true,
    keys: specDeviceKeys,
  });
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;

  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const wifi = (allowJoinBeforeFirstUnlock = false): Buffer =>
  buildWifiProfile({ ssid: 'Floor', password: 'correct horse', allowJoinBeforeFirstUnlock });
const app = (iTunesStoreID: number): PlistDict => ({
  RequestType: 'InstallApplication',
  iTunesStoreID,
});
const PAGES = 361309726;
const NUMBERS = 361304891;
const KEYNOTE = 361285480;
const configured = { RequestType: 'DeviceConfigured' };
const inventory = { RequestType: 'ManagedApplicationList' };

/** Enrolls the device, lets it work through `first`, and leaves it running in service. */
async function inService(subject: SimulatedDevice, mdm: FakeMdm, first: PlistDict[]) {
  const controller = new AbortController();

  mdm.queue = [...first, configured];
  await subject.enroll(controller.signal);

  const running = subject.run(controller.signal);

  await until(() => subject.state === 'in-service');

  return {
    token: mdm.checkIns.find((m) => m['MessageType'] === 'SetBootstrapToken')?.[
      'BootstrapToken'
    ] as Uint8Array | undefined,
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

describe('SimulatedDevice in Return to Service with app preservation', () => {
  it('keeps its apps through an erase with its bootstrap token, then NotNow, snapshot and Idle', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'visionos' });
    const { token, stop } = await inService(subject, mdm, [app(PAGES), app(KEYNOTE)]);

    expect(token).toHaveLength(32);
    mdm.afterEnrollment = (enrollment) => {
      if (enrollment === 2) {
        mdm.queue = [
          { RequestType: 'InstallProfile', Payload: wifi(true) },
          {
            RequestType: 'Settings',
            Settings: [{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }],
          },
          app(PAGES),
          app(NUMBERS),
          configured,
          inventory,
        ];
      }
    };
    subject.beginCycle();
    mdm.queue.push({
      RequestType: 'EraseDevice',
      ReturnToService: {
        Enabled: true,
        WiFiProfileData: wifi(true),
        BootstrapToken: token ?? Buffer.alloc(0),
      },
    });
    await until(() =>
      mdm.results('ManagedApplicationList').some((r) => r['Status'] === 'Acknowledged'),
    );
    await stop();

    const afterConfigured = mdm.reports.slice(
      mdm.reports.findIndex((r) => r === mdm.results('DeviceConfigured')[1]) + 1,
    );
    const apps = mdm.results('ManagedApplicationList').at(-1)?.['ManagedApplicationList'];

    expect(mdm.count('SetBootstrapToken')).toBe(1);
    expect(mdm.results('InstallProfile').map((r) => r['Status'])).toEqual(['Acknowledged']);
    expect(subject.idleTimeoutSeconds).toBe(900);
    expect(subject.stats).toMatchObject({
      preservingErases: 1,
      preservedApps: 1,
      downloadedApps: 3,
      removedApps: 1,
    });
    expect(subject.stats.snapshotNotNow).toBeGreaterThanOrEqual(1);
    expect(afterConfigured.map((r) => r['Status']).slice(0, 3)).toEqual([
      'NotNow',
      'Idle',
      'Acknowledged',
    ]);
    expect(Object.keys(apps as PlistDict).sort()).toEqual(['com.apple.Numbers', 'com.apple.Pages']);
    expect(
      (subject.clock?.resumedAt ?? 0) - (subject.clock?.configuredAt ?? 0),
    ).toBeGreaterThanOrEqual(40);
    expect(subject.state).toBe('stopped');
  });

  it('erases everything when the token is not its own, and refuses the early-join Wi-Fi then', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'visionos' });
    const { stop } = await inService(subject, mdm, [app(PAGES)]);

    mdm.afterEnrollment = (enrollment) => {
      if (enrollment === 2) {
        mdm.queue = [
          { RequestType: 'InstallProfile', Payload: wifi(true) },
          app(PAGES),
          configured,
        ];
      }
    };
    mdm.queue.push({
      RequestType: 'EraseDevice',
      ReturnToService: {
        Enabled: true,
        WiFiProfileData: wifi(),
        BootstrapToken: Buffer.alloc(32, 1),
      },
    });
    await until(
      () => mdm.results('DeviceConfigured').length === 2 && subject.state === 'in-service',
    );
    await stop();

    expect(subject.stats).toMatchObject({
      fullErases: 1,
      preservedApps: 0,
      downloadedApps: 2,
      snapshotNotNow: 0,
    });
    expect(mdm.results('InstallProfile').map((r) => r['Status'])).toEqual(['Error']);
    expect(mdm.count('SetBootstrapToken')).toBe(1);
  });

  it('answers a second DeviceConfigured with an error', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm);
    const { stop } = await inService(subject, mdm, []);

    mdm.queue.push(configured);
    await until(() => mdm.results('DeviceConfigured').length === 2);
    await stop();

    expect(mdm.results('DeviceConfigured').map((r) => r['Status'])).toEqual([
      'Acknowledged',
      'Error',
    ]);
  });

  it('sends no bootstrap token from an Apple TV', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'tvos' });
    const { stop } = await inService(subject, mdm, []);

    await stop();

    expect(mdm.count('SetBootstrapToken')).toBe(0);
    expect(subject.bootstrapTokenEscrowed).toBe(false);
  });
});

describe('SimulatedDevice asking for Return to Service itself', () => {
  it('sends the signed ReturnToService check-in and erases as the answer says', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'visionos' });
    const { token, stop } = await inService(subject, mdm, [app(PAGES)]);

    mdm.returnToServiceAnswer = {
      ReturnToService: {
        Enabled: true,
        WiFiProfileData: wifi(true),
        BootstrapToken: token ?? Buffer.alloc(0),
      },
    };
    mdm.afterEnrollment = () => {
      mdm.queue = [app(PAGES), configured];
    };
    subject.beginCycle();
    subject.arm('user');
    await until(() => mdm.count('TokenUpdate') === 2 && subject.state === 'in-service');
    await stop();

    expect(mdm.checkIns.find((m) => m['MessageType'] === 'ReturnToService')).toEqual({
      MessageType: 'ReturnToService',
      UDID: subject.udid,
      signed: true,
    });
    expect(subject.returnToServiceRequest).toMatchObject({ trigger: 'user', enabled: true });
    expect(subject.stats).toMatchObject({ preservingErases: 1, preservedApps: 1 });
    expect(subject.cycleProblem).toBeUndefined();
    expect(subject.clock?.eraseAcknowledgedAt).toEqual(expect.any(Number));
  });

  it('reports a refusal (Enabled false) and stays in service', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'ios' });
    const { stop } = await inService(subject, mdm, []);

    subject.beginCycle();
    subject.arm('user');
    await until(() => subject.cycleProblem !== undefined);
    await stop();

    expect(subject.cycleProblem).toMatch(/Enabled false/);
    expect(subject.returnToServiceRequest?.enabled).toBe(false);
    expect(mdm.count('TokenUpdate')).toBe(1);
  });

  it('reports an idle trigger without an idle timeout', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { platform: 'visionos' });
    const { stop } = await inService(subject, mdm, []);

    subject.beginCycle();
    subject.arm('idle');
    await until(() => subject.cycleProblem !== undefined);
    await stop();

    expect(subject.cycleProblem).toMatch(/^no idle timeout set/);
    expect(mdm.count('ReturnToService')).toBe(0);
  });
});

describe('triggerDelayMs', () => {
  const base = { armedAt: 1_000, delayMs: 300, graceMs: 15_000 };

  it('fires the idle trigger once the timeout has passed since the device went into service', () => {
    const timing = {
      ...base,
      trigger: 'idle' as const,
      inServiceSince: 500,
      idleTimeoutSeconds: 30,
    };

    expect(triggerDelayMs({ ...timing, now: 1_000 })).toBe(29_800);
    expect(triggerDelayMs({ ...timing, now: 30_800 })).toBe(0);
  });

  it('lets a person start it a moment after arming, well before any timeout', () => {
    expect(
      triggerDelayMs({
        ...base,
        trigger: 'user',
        inServiceSince: 500,
        idleTimeoutSeconds: 30,
        now: 1_000,
      }),
    ).toBe(300);
  });

  it('gives up on the idle trigger when no timeout arrives within the grace', () => {
    expect(triggerDelayMs({ ...base, trigger: 'idle', now: 2_000 })).toBe(14_000);
    expect(triggerDelayMs({ ...base, trigger: 'idle', now: 16_000 })).toBe('no-timeout');
  });
});

describe('SimulatedDevice with Activation Lock', () => {
  it('hands out its bypass code and stops in Setup Assistant when erased still locked', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { activationLock: true });
    const { stop } = await inService(subject, mdm, [{ RequestType: 'ActivationLockBypassCode' }]);
    const code = subject.activationLock.bypassCode;

    mdm.queue.push({
      RequestType: 'EraseDevice',
      ReturnToService: { Enabled: true, WiFiProfileData: wifi() },
    });
    await until(() => subject.state === 'failed');
    await stop();

    expect(mdm.results('ActivationLockBypassCode')[0]?.['ActivationLockBypassCode']).toBe(code);
    expect(code).toMatch(/^[A-Z2-7]{5}(-[A-Z2-7]{5}){4}$/);
    expect(subject.failure).toMatchObject({
      kind: 'stranded',
      reason: expect.stringMatching(/^Activation Lock still on after erase/),
    });
  });

  it('comes back when the lock was cleared with the current code, with a new code', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, { activationLock: true });
    const { stop } = await inService(subject, mdm, []);
    const code = subject.activationLock.bypassCode;

    expect(subject.activationLock.unlock('WRONG-CODE0-00000-00000-00000', 'iPhone17,1')).toBe(
      'wrong-code',
    );
    expect(subject.activationLock.unlock(code.toLowerCase(), 'iPhone17,1')).toBe('cleared');
    mdm.afterEnrollment = () => {
      mdm.queue = [configured];
    };
    mdm.queue.push({
      RequestType: 'EraseDevice',
      ReturnToService: { Enabled: true, WiFiProfileData: wifi() },
    });
    await until(() => mdm.count('TokenUpdate') === 2 && subject.state === 'in-service');
    await stop();

    expect(subject.activationLock.bypassCode).not.toBe(code);
    expect(subject.activationLock.locked).toBe(true);
    expect(subject.activationLock.unlocks).toBe(1);
  });
});

describe('SimulatedDevice enrolling through ADE', () => {
  it('posts signed MachineInfo, updates when answered 403 and asks again', async () => {
    const mdm = new FakeMdm();
    const hardware = createHardware('ios', 0, 'spec', { outdatedShare: 1 });
    const [version, build] = newestRelease('ios');
    const subject = device(mdm, { hardware });
    const before = hardware.osVersion;

    mdm.requireOs = { OSVersion: version, BuildVersion: build };
    await expect(subject.enroll(new AbortController().signal)).resolves.toBe(true);

    expect(before).not.toBe(version);
    expect(mdm.enrollments.map((info) => [info.isSigned, info.osVersion, info.version])).toEqual([
      [true, before, expect.any(String)],
      [true, version, build],
    ]);
    expect(mdm.enrollments[0]).toMatchObject({
      udid: subject.udid,
      serial: hardware.serialNumber,
      product: 'iPhone17,1',
      mdmCanRequestSoftwareUpdate: true,
    });
    expect(subject.stats.softwareUpdates).toBe(1);
    expect(hardware.buildVersion).toBe(build);
  });

  it('gives up when the service keeps asking for the same update', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm);

    mdm.requireOs = { OSVersion: '99.0' };
    mdm.updateLoop = true;
    await expect(subject.enroll(new AbortController().signal)).resolves.toBe(false);

    expect(subject.failure?.reason).toMatch(/software update 4 times in a row/);
  });

  it('never fetches a profile, so never updates, when the erase carries MDMProfileData', async () => {
    const mdm = new FakeMdm();
    const subject = device(mdm, {
      hardware: createHardware('ios', 0, 'spec', { outdatedShare: 1 }),
    });
    const { stop } = await inService(subject, mdm, []);

    mdm.requireOs = { OSVersion: newestRelease('ios')[0] };
    mdm.afterEnrollment = () => {
      mdm.queue = [configured];
    };
    mdm.queue.push({
      RequestType: 'EraseDevice',
      ReturnToService: {
        Enabled: true,
        WiFiProfileData: wifi(),
        MDMProfileData: enrollmentProfile,
      },
    });
    await until(() => mdm.count('TokenUpdate') === 2 && subject.state === 'in-service');
    await stop();

    expect(mdm.enrollments).toHaveLength(1);
    expect(subject.stats.softwareUpdates).toBe(0);
  });
});
