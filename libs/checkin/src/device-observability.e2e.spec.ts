import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { INestApplication } from '@nestjs/common';

import { CertificateAuthority, RequestSigner } from '@turnaround/identity';
import { InProcessTransport } from '@turnaround/messaging';
import { loadConfig, redirectLogs } from '@turnaround/platform';
import { encodePlistXml, PlistDict } from '@turnaround/protocol';
import { startServices } from '@turnaround/runtime';
import { freeLoopbackPort } from '@turnaround/testing';

import { CheckinModule } from './checkin.module.js';

type Line = Record<string, unknown>;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The check-in service's device requests as an operator sees them: in `/metrics` and in the log. */
describe('check-in device requests in metrics and logs', () => {
  const transport = new InProcessTransport({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  const lines: Line[] = [];
  let restoreLogs: () => void;
  let app: INestApplication;
  let url = '';
  let dir = '';
  let device: RequestSigner;

  beforeAll(async () => {
    restoreLogs = redirectLogs({ write: (line) => void lines.push(JSON.parse(line) as Line) });
    dir = mkdtempSync(join(tmpdir(), 'turnaround-checkin-observability-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      LOG_LEVEL: 'debug',
      TURNAROUND_DATA_DIR: dir,
      PORT: String(port),
      TURNAROUND_PUBLIC_URL: url,
    });
    app = await startServices(config, transport, [
      { service: 'checkin', module: CheckinModule.register(config, transport) },
    ]);
    const authority = CertificateAuthority.fromPem(
      readFileSync(join(dir, 'ca.crt'), 'utf8'),
      readFileSync(join(dir, 'ca.key'), 'utf8'),
    );
    device = new RequestSigner(
      await authority.issueDeviceIdentity({ commonName: 'observed device' }),
    );
  });

  afterAll(async () => {
    await transport.idle();
    await app.close();
    restoreLogs();
    rmSync(dir, { recursive: true, force: true });
  });

  async function checkIn(
    message: PlistDict,
    options: { signed?: boolean; requestId?: string } = {},
  ): Promise<{ status: number; requestId: string | null }> {
    const body = encodePlistXml(message);
    const response = await fetch(`${url}/mdm/checkin`, {
      method: 'PUT',
      headers: {
        'Content-Type': 'application/x-apple-aspen-mdm-checkin',
        ...(options.signed === false ? {} : { 'Mdm-Signature': device.sign(body) }),
        ...(options.requestId ? { 'X-Request-Id': options.requestId } : {}),
      },
      body: new Uint8Array(body),
    });
    await response.arrayBuffer();

    return { status: response.status, requestId: response.headers.get('x-request-id') };
  }

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();

    return { text, samples: readExposition(text) };
  }

  it('counts signed check-ins by MessageType and status, and refused ones as none, in a scrape that parses', async () => {
    const before = (await scrape()).samples;
    const authenticate = {
      MessageType: 'Authenticate',
      UDID: 'UDID-OBSERVED',
      Topic: 'com.apple.mgmt.test',
      ProductName: 'iPhone17,1',
      OSVersion: '26.1',
    };

    expect((await checkIn(authenticate)).status).toBe(200);
    expect(
      (
        await checkIn({
          MessageType: 'TokenUpdate',
          UDID: 'UDID-OBSERVED',
          Topic: 'com.apple.mgmt.test',
          Token: Buffer.alloc(32, 3),
          PushMagic: 'PM',
        })
      ).status,
    ).toBe(200);
    expect((await checkIn(authenticate, { signed: false })).status).toBe(400);
    expect((await fetch(`${url}/mdm/enroll`)).status).toBe(200);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>): number =>
      (valueOf(after.samples, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);

    expect(
      delta('turnaround_device_requests_total', {
        endpoint: 'checkin',
        message_type: 'Authenticate',
        status: '200',
      }),
    ).toBe(1);
    expect(
      delta('turnaround_device_requests_total', {
        endpoint: 'checkin',
        message_type: 'TokenUpdate',
        status: '200',
      }),
    ).toBe(1);
    // Refused before the body was read as a check-in: its type is not known.
    expect(
      delta('turnaround_device_requests_total', {
        endpoint: 'checkin',
        message_type: 'none',
        status: '400',
      }),
    ).toBe(1);
    expect(
      delta('turnaround_device_requests_total', {
        endpoint: 'enroll',
        message_type: 'Profile',
        status: '200',
      }),
    ).toBe(1);
    expect(
      delta('turnaround_device_request_duration_seconds_count', {
        endpoint: 'checkin',
        message_type: 'TokenUpdate',
      }),
    ).toBe(1);
    expect(
      delta('turnaround_device_request_duration_seconds_bucket', {
        endpoint: 'checkin',
        message_type: 'TokenUpdate',
        le: '+Inf',
      }),
    ).toBe(1);
    expect(after.text).toMatch(/\n# TYPE turnaround_device_request_duration_seconds histogram\n/);
  });

  it('logs every line of a check-in with the request’s correlation id and, once read, the device', async () => {
    const from = lines.length;
    const answer = await checkIn(
      {
        MessageType: 'TokenUpdate',
        UDID: 'UDID-OBSERVED',
        Topic: 'com.apple.mgmt.test',
        Token: Buffer.alloc(32, 4),
        PushMagic: 'PM',
      },
      { requestId: 'edge-4711' },
    );
    await transport.idle();
    const during = lines.slice(from);
    const ofRequest = during.filter((line) => line.correlationId === 'edge-4711');

    expect(answer).toEqual({ status: 200, requestId: 'edge-4711' });
    expect(during.filter((line) => typeof line.correlationId !== 'string')).toEqual([]);
    expect(ofRequest.find((line) => line.msg === 'check-in answered')).toMatchObject({
      udid: 'UDID-OBSERVED',
      messageType: 'TokenUpdate',
      component: 'CheckinRoutes',
    });
    // The check-in's own components log under its id alone.
    const requestComponents = new Set(ofRequest.map((line) => line.component));
    expect(
      during.filter(
        (line) => requestComponents.has(line.component) && line.correlationId !== 'edge-4711',
      ),
    ).toEqual([]);
    expect(ofRequest.every((line) => line.udid === 'UDID-OBSERVED')).toBe(true);
  });

  it('logs a refused check-in under its own generated id', async () => {
    const from = lines.length;
    const answer = await checkIn(
      { MessageType: 'Authenticate', UDID: 'UDID-OBSERVED', Topic: 'com.apple.mgmt.test' },
      { signed: false },
    );
    const refused = lines.slice(from).find((line) => line.msg === 'device request refused');

    expect(answer.status).toBe(400);
    expect(refused).toMatchObject({ correlationId: answer.requestId, status: 400 });
    expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

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

/**
 * Reads a scrape as Prometheus does and fails on any line it could not read: comments it knows,
 * samples with escaped label values and a float (NaN and Inf in any case).
 */
function readExposition(text: string): Sample[] {
  const comment =
    /^# (HELP [a-zA-Z_:][\w:]* .*|TYPE [a-zA-Z_:][\w:]* (counter|gauge|histogram|summary|untyped))$/;
  const sample =
    /^([a-zA-Z_:][\w:]*)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|[+-]?Inf|NaN)$/i;
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || comment.test(line)) {
      continue;
    }
    const match = sample.exec(line);
    if (!match) {
      throw new Error(`unreadable scrape line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const pair of match[2]?.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\\n]|\\[\\"n])*)"/g) ?? []) {
      labels[pair[1]!] = pair[2]!.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }

  return samples;
}
