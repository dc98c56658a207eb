import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DynamicModule, INestApplication, Module } from '@nestjs/common';

import { CommandAcknowledged, createEnvelope, Envelope } from '@turnaround/contracts';
import { InProcessTransport } from '@turnaround/messaging';
import {
  createLogger,
  loadConfig,
  persistenceFor,
  recordDelivery,
  redirectLogs,
  registerOutboxMetrics,
  runWithLogContext,
  runWithMessageContext,
} from '@turnaround/platform';
import { freeLoopbackPort } from '@turnaround/testing';

import { startServices } from './bootstrap.js';

@Module({})
class EmptyService {
  static register(config: ReturnType<typeof loadConfig>): DynamicModule {
    return { module: EmptyService, imports: persistenceFor({ service: 'escrow', entities: [], migrations: { postgres: [], sqlite: [] } }, config) };
  }
}

type Line = Record<string, unknown>;

/** The process shell's part in observability: request ids, message contexts, `/metrics`. */
describe('correlation ids and metrics of a running process', () => {
  const transport = new InProcessTransport({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 });
  const lines: Line[] = [];
  let restoreLogs: () => void;
  let app: INestApplication;
  let url = '';
  let dir = '';

  beforeAll(async () => {
    restoreLogs = redirectLogs({ write: (line) => void lines.push(JSON.parse(line) as Line) });
    dir = mkdtempSync(join(tmpdir(), 'turnaround-observability-'));
    const port = await freeLoopbackPort();
    url = `http://127.0.0.1:${port}`;
    // Debug, so Nest's own lines (routes mapped, modules loaded) are captured too.
    const config = loadConfig({ LOG_LEVEL: 'debug', TURNAROUND_DATA_DIR: dir, PORT: String(port) });
    app = await startServices(config, transport, [
      { service: 'escrow', module: EmptyService.register(config) },
    ]);
  });

  afterAll(async () => {
    await app.close().catch(() => undefined);
    restoreLogs();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a correlation id on every line, Nest’s own included', () => {
    expect(lines.some((line) => line.component === 'Nest')).toBe(true);
    expect(
      lines.filter((line) => typeof line.correlationId !== 'string' || line.correlationId === ''),
    ).toEqual([]);
  });

  it('runs a request under the X-Request-Id it came with, and answers with it', async () => {
    const from = lines.length;
    const response = await fetch(`${url}/readyz`, {
      headers: { 'X-Request-Id': 'router-7f3a:0001' },
    });
    const during = lines.slice(from);

    expect(response.headers.get('x-request-id')).toBe('router-7f3a:0001');
    // The first probe logs the readiness change from inside the request.
    expect(during.find((line) => line.msg === 'readiness changed')).toMatchObject({
      correlationId: 'router-7f3a:0001',
    });
    expect(during.map((line) => line.correlationId)).toEqual(during.map(() => 'router-7f3a:0001'));
  });

  it('replaces an X-Request-Id that is too long or holds more than plain characters', async () => {
    for (const offered of [
      'a'.repeat(129),
      'id with spaces',
      'id"}{"forged":1',
      '-starts-with-dash',
    ]) {
      const response = await fetch(`${url}/healthz`, { headers: { 'X-Request-Id': offered } });

      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const plain = await fetch(`${url}/healthz`);
    const again = await fetch(`${url}/healthz`);

    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(plain.headers.get('x-request-id')).not.toBe(again.headers.get('x-request-id'));
  });

  it('runs a handled bus message under its correlation id, even when it was published during a request', async () => {
    const logger = createLogger('ObservabilitySpec');
    let failures = 1;
    await transport.subscribe(
      'observer',
      ['commands.command.acknowledged.v1'],
      (envelope: Envelope) =>
        runWithMessageContext(envelope, async () => {
          logger.info('handling');
          if (failures > 0) {
            failures -= 1;
            throw new Error('not yet');
          }
          logger.info('handled');
        }),
    );
    const envelope = createEnvelope(
      CommandAcknowledged,
      'commands',
      {
        udid: 'UDID-OBS',
        enrollmentId: 'E1',
        commandUuid: 'CMD-1',
        requestType: 'DeviceInformation',
      },
      { subject: 'UDID-OBS', correlationId: 'cycle-obs' },
    );
    const from = lines.length;
    // Published from inside a request's context, as a controller does: the handler still runs
    // under the message's own ids.
    await runWithLogContext({ correlationId: 'publishing-request' }, () =>
      transport.publish(envelope),
    );
    await transport.idle();
    const handling = lines.slice(from).filter((line) => line.component === 'ObservabilitySpec');

    expect(
      handling.map((line) => [line.msg, line.correlationId, line.messageId, line.udid]),
    ).toEqual([
      ['handling', 'cycle-obs', envelope.id, 'UDID-OBS'],
      ['handling', 'cycle-obs', envelope.id, 'UDID-OBS'],
      ['handled', 'cycle-obs', envelope.id, 'UDID-OBS'],
    ]);
    expect(lines.slice(from).filter((line) => typeof line.correlationId !== 'string')).toEqual([]);
  });

  it('serves the process metrics at /metrics in the text exposition format', async () => {
    recordDelivery('escrow', 'escrow.bootstrap-token.store.v1', 'retry');
    const unregister = registerOutboxMetrics(async () => [
      { service: 'escrow', pending: 3, oldestAgeSeconds: 12.5 },
    ]);
    const response = await fetch(`${url}/metrics`);
    const text = await response.text();
    unregister();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(unreadable(text)).toEqual([]);
    expect(text).toContain('\nturnaround_outbox_pending{service="escrow"} 3\n');
    expect(text).toContain('\nturnaround_outbox_lag_seconds{service="escrow"} 12.5\n');
    expect(text).toMatch(/\nturnaround_process_resident_memory_bytes \d+\n/);
    expect(text).toMatch(/\n# TYPE turnaround_device_requests_total counter\n/);
  });
});

/**
 * Lines of a scrape that are neither a comment Prometheus knows nor a sample it can read (its
 * parser takes NaN and Inf in any case; prom-client writes an empty mean as `Nan`).
 */
function unreadable(text: string): string[] {
  const sample =
    /^[a-zA-Z_:][\w:]*(\{[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*"(,[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|[+-]?Inf|NaN)$/i;
  const comment =
    /^# (HELP [a-zA-Z_:][\w:]* .*|TYPE [a-zA-Z_:][\w:]* (counter|gauge|histogram|summary|untyped))$/;

  return text
    .split('\n')
    .filter((line) => line !== '' && !sample.test(line) && !comment.test(line));
}
