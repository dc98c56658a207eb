import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { silentLog, type SimulatorLog } from './log.js';

// RFC 4648 base-32: the code is shown to people in its dashed form, five groups of five.
const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh device bypass code in its dashed human-readable form, e.g. `K3M9Q-...`. */
export function newBypassCode(): string {
  return Array.from({ length: 5 }, () =>
    Array.from({ length: 5 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join(''),
  ).join('-');
}

export type UnlockVerdict = 'cleared' | 'not-locked' | 'wrong-code' | 'wrong-product';

/**
 * A device's Activation Lock. Supervised devices make a new bypass code at first set-up and after
 * every erase; only the current code clears the lock. A device whose lock is `enabled` turns it
 * on again each time it is back in service (a person signs in to Find My on it).
 */
export class ActivationLock {
  locked: boolean;
  /** Locks cleared through the unlock endpoint. */
  unlocks = 0;
  private code = newBypassCode();

  constructor(
    readonly enabled: boolean,
    private readonly productType: string,
  ) {
    this.locked = enabled;
  }

  /** The code ActivationLockBypassCode answers with. */
  get bypassCode(): string {
    return this.code;
  }

  /** After an erase: a new code, and no lock until the device is back in service. */
  erased(): void {
    this.code = newBypassCode();
    this.locked = false;
  }

  /** The device is back in service: a device that uses Activation Lock has it on again. */
  inService(): void {
    this.locked = this.enabled;
  }

  /** What Apple's unlock service does with a request for this device. */
  unlock(escrowKey: string, productType: string): UnlockVerdict {
    if (productType !== this.productType) {
      return 'wrong-product';
    }
    if (escrowKey.trim().toUpperCase() !== this.code) {
      return 'wrong-code';
    }
    if (!this.locked) {
      return 'not-locked';
    }

    this.locked = false;
    this.unlocks += 1;

    return 'cleared';
  }
}

export const UNLOCK_PATH = '/deviceservicesworkers/escrowKeyUnlock';
/** The variable the service reads its unlock URL from. */
export const UNLOCK_URL_VARIABLE = 'TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL';

const MAX_BODY_BYTES = 8 * 1024;

export interface UnlockEndpointCounts {
  requests: number;
  cleared: number;
  refused: number;
}

/**
 * A stand-in for Apple's Activation Lock unlock service on 127.0.0.1:
 * `POST /deviceservicesworkers/escrowKeyUnlock?serial=..&productType=..` with the form fields
 * orgName, guid and escrowKey. 200 when the code is the device's current one, 400 otherwise.
 * Apple authenticates the caller with the push certificate over TLS; this fake is for loopback
 * demos and tests only and checks no client certificate.
 */
export class UnlockEndpoint {
  readonly counts: UnlockEndpointCounts = { requests: 0, cleared: 0, refused: 0 };
  private server?: Server;

  constructor(
    private readonly lockOf: (serial: string) => ActivationLock | undefined,
    private readonly log: SimulatorLog = silentLog,
  ) {}

  /** Listens on 127.0.0.1:`port` (0 picks a free one); resolves with the unlock URL. */
  async start(port: number): Promise<string> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        this.log.warn('unlock request failed', { reason: String(error) });
        answer(response, 500, 'internal error');
      });
    });

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;

    return `http://127.0.0.1:${(server.address() as AddressInfo).port}${UNLOCK_PATH}`;
  }

  async stop(): Promise<void> {
    const server = this.server;

    this.server = undefined;
    if (!server) {
      return;
    }

    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.counts.requests += 1;

    const url = new URL(request.url ?? '/', 'http://127.0.0.1');

    if (url.pathname !== UNLOCK_PATH) {
      answer(response, 404, 'not found');

      return;
    }
    if (request.method !== 'POST') {
      answer(response, 405, 'POST only');

      return;
    }

    const body = await readBody(request);

    if (body === undefined) {
      this.refuse(response, undefined, 'body too large');

      return;
    }

    const serial = url.searchParams.get('serial') ?? '';
    const productType = url.searchParams.get('productType') ?? '';
    const form = new URLSearchParams(
      (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
        ? body
        : '',
    );
    const missing = [
      ['serial', serial],
      ['productType', productType],
      ['orgName', form.get('orgName') ?? ''],
      ['guid', form.get('guid') ?? ''],
      ['escrowKey', form.get('escrowKey') ?? ''],
    ].flatMap(([field, value]) => (value === '' ? [field] : []));

    if (missing.length > 0) {
      this.refuse(
        response,
        serial,
        `missing ${missing.join(', ')} (form fields need Content-Type application/x-www-form-urlencoded)`,
      );

      return;
    }

    const lock = this.lockOf(serial);

    if (!lock) {
      this.refuse(response, serial, 'unknown serial number');

      return;
    }

    const verdict = lock.unlock(form.get('escrowKey') ?? '', productType);

    if (verdict === 'cleared' || verdict === 'not-locked') {
      this.counts.cleared += verdict === 'cleared' ? 1 : 0;
      this.log.info('activation lock unlock accepted', { serial, verdict });
      answer(response, 200, '');

      return;
    }

    this.refuse(
      response,
      serial,
      verdict === 'wrong-code'
        ? "escrowKey is not the device's current bypass code"
        : 'productType does not match the device',
    );
  }

  private refuse(response: ServerResponse, serial: string | undefined, reason: string): void {
    this.counts.refused += 1;
    this.log.warn('activation lock unlock refused', { serial, reason });
    answer(response, 400, reason);
  }
}

function answer(response: ServerResponse, status: number, text: string): void {
  if (response.headersSent) {
    response.end();

    return;
  }

  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;

  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }

  return Buffer.concat(chunks).toString('utf8');
}
