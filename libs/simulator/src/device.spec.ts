import { decodePlist, encodeCommand, type PlistDict } from '@turnaround/protocol';

import { SimulatedDevice } from './device.js';
import { createHardware } from './hardware.js';
import { Limiter } from './limiter.js';
import { createLog } from './log.js';
import {
  CHECKIN_CONTENT_TYPE,
  COMMAND_CONTENT_TYPE,
  DeviceHttp,
  type FetchLike,
} from './mdm-client.js';
import {
  SPEC_BASE,
  specDeviceKeys,
  specEnrollmentProfile,
  withSpecScep,
} from './testing/spec-enrollment-profile.js';

const BASE = SPEC_BASE;

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  signed: boolean;
  body?: PlistDict;
}

let enrollmentProfile: Buffer;

beforeAll(async () => {
  enrollmentProfile = await specEnrollmentProfile(BASE);
}, 30_000);

/** A scripted service: answers the command URL from `replies` in order, then with nothing. */
function fakeService(replies: { status: number; body?: Buffer | string }[]) {
  const seen: Seen[] = [];
  const fetchImpl: FetchLike = async (url, init) => {
    const headers = init.headers as Record<string, string>;
    const bytes = init.body as Uint8Array | undefined;

    // The enrollment fetch carries CMS-signed MachineInfo; everything else is a plist.
    const enrollment = url.endsWith('/mdm/enroll');

    seen.push({
      method: String(init.method),
      url,
      contentType: headers['Content-Type'],
      signed: typeof headers['Mdm-Signature'] === 'string',
      ...(bytes && !enrollment ? { body: decodePlist(bytes) as PlistDict } : {}),
    });
    if (enrollment) {
      return new Response(enrollmentProfile, { status: 200 });
    }
    if (url.endsWith('/mdm/checkin')) {
      return new Response(null, { status: 200 });
    }

    const reply = replies.shift() ?? { status: 200 };

    return new Response(reply.body ?? null, { status: reply.status });
  };

  return { seen, fetchImpl };
}

function device(fetchImpl: FetchLike, warnings: string[] = []): SimulatedDevice {
  return new SimulatedDevice({
    hardware: createHardware('ios', 0, 'spec'),
    enrollUrl: `${BASE}/mdm/enroll`,
    http: new DeviceHttp({
      limiter: new Limiter(4),
      log: createLog({ write: (line) => warnings.push(line) }, 'warn'),
      fetch: withSpecScep(fetchImpl),
      firstBackoffMs: 1,
      maxBackoffMs: 5,
    }),
    log: createLog({ write: () => undefined }, 'silent'),
    responder: { notNowShare: 0, seed: 'spec' },
    timing: { busyPollMs: [5, 10], idlePollMs: 20, eraseDelayMs: 5, networkJoinMs: 5 },
    keys: specDeviceKeys,
  });
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;

  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SimulatedDevice', () => {
  it('enrolls from the fetched profile: Authenticate, then TokenUpdate awaiting configuration, signed', async () => {
    const service = fakeService([]);
    const subject = device(service.fetchImpl);

    await expect(subject.enroll(new AbortController().signal)).resolves.toBe(true);

    const [fetchProfile, authenticate, tokenUpdate] = service.seen;

    expect(fetchProfile).toMatchObject({
      method: 'POST',
      url: `${BASE}/mdm/enroll`,
      contentType: 'application/pkcs7-signature',
    });
    expect(authenticate).toMatchObject({
      method: 'PUT',
      url: `${BASE}/mdm/checkin`,
      contentType: CHECKIN_CONTENT_TYPE,
      signed: true,
      body: { MessageType: 'Authenticate', UDID: subject.udid, ProductName: 'iPhone17,1' },
    });
    expect(tokenUpdate?.body).toMatchObject({
      MessageType: 'TokenUpdate',
      AwaitingConfiguration: true,
    });
    expect(tokenUpdate?.body?.['Token']).toHaveLength(32);
    expect(subject.state).toBe('awaiting-configuration');
  });

  it('resends a result only while the service answers non-2xx, and logs status and body', async () => {
    const warnings: string[] = [];
    const service = fakeService([
      { status: 200, body: encodeCommand('RELEASE-1', { RequestType: 'DeviceConfigured' }) },
      { status: 503, body: 'queue busy' },
      { status: 200 },
    ]);
    const subject = device(service.fetchImpl, warnings);
    const controller = new AbortController();

    await subject.enroll(controller.signal);

    const running = subject.run(controller.signal);

    await until(() => subject.state === 'in-service' && service.seen.length >= 8);
    controller.abort();
    await running;

    const commandUrl = service.seen.filter((request) => request.url.endsWith('/mdm/server'));
    const results = commandUrl.filter((request) => request.body?.['CommandUUID'] === 'RELEASE-1');

    expect(
      commandUrl.every((request) => request.contentType === COMMAND_CONTENT_TYPE && request.signed),
    ).toBe(true);
    expect(commandUrl[0]?.body).toEqual({ UDID: subject.udid, Status: 'Idle' });
    expect(results).toHaveLength(2);
    expect(results.map((request) => request.body?.['Status'])).toEqual([
      'Acknowledged',
      'Acknowledged',
    ]);
    expect(commandUrl.slice(3).every((request) => request.body?.['Status'] === 'Idle')).toBe(true);
    expect(warnings.join('')).toMatch(/status=503 body="queue busy"/);
  });

  it('is stranded, not hung, when the erase carries a Wi-Fi profile it cannot read', async () => {
    const doubleEncoded = Buffer.from(
      Buffer.from('<?xml version="1.0"?><plist/>').toString('base64'),
    );
    const service = fakeService([
      {
        status: 200,
        body: encodeCommand('ERASE-1', {
          RequestType: 'EraseDevice',
          ReturnToService: { Enabled: true, WiFiProfileData: doubleEncoded },
        }),
      },
    ]);
    const subject = device(service.fetchImpl);
    const controller = new AbortController();

    await subject.enroll(controller.signal);
    subject.beginCycle();
    await subject.run(controller.signal);

    expect(subject.state).toBe('failed');
    expect(subject.failure).toMatchObject({
      kind: 'stranded',
      reason: expect.stringMatching(/encoded twice/),
    });
    expect(subject.clock?.eraseAcknowledgedAt).toEqual(expect.any(Number));
    expect(service.seen.some((request) => request.body?.['CommandUUID'] === 'ERASE-1')).toBe(true);
  });
});
