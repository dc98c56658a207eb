import { encodePlistXml, type PlistDict } from '@turnaround/protocol';
import type { RequestSigner } from '@turnaround/identity';

import { Limiter, sleep } from './limiter.js';
import type { SimulatorLog } from './log.js';
import { jitter } from './random.js';
import { DeviceHttpError, messageOf } from './simulator.errors.js';

export const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';
export const COMMAND_CONTENT_TYPE = 'application/x-apple-aspen-mdm';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Counts a device's HTTP requests, retries included. */
export interface RequestCounter {
  requests: number;
}

export interface DeviceHttpOptions {
  limiter: Limiter;
  log: SimulatorLog;
  fetch?: FetchLike;
  /** Tries per request before giving up; default 6. */
  maxAttempts?: number;
  /** Per try; default 15 s. */
  requestTimeoutMs?: number;
  /** First retry delay, doubled per try up to `maxBackoffMs`; default 250 ms. */
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface DeviceRequest {
  /** For logs and errors, e.g. "TokenUpdate check-in". */
  what: string;
  udid: string;
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
}

/** An answer as {@link DeviceHttp.exchange} hands it back. */
export interface DeviceAnswer {
  status: number;
  body: Uint8Array;
  contentType: string;
}

const BODY_PREVIEW = 300;

/**
 * The HTTP side every simulated device shares: a cap on requests in flight, a timeout per try,
 * and retries with growing delays. Apple devices keep a result and resend it until the server
 * answers 2xx, so a non-2xx answer is retried with the same bytes, never dropped.
 */
export class DeviceHttp {
  private readonly fetch: FetchLike;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly firstBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: DeviceHttpOptions) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.maxAttempts = options.maxAttempts ?? 6;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.firstBackoffMs = options.firstBackoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 4_000;
  }

  /** The 2xx answer's body (zero bytes for an empty answer). Throws {@link DeviceHttpError}. */
  async send(
    request: DeviceRequest,
    counter: RequestCounter,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    return (await this.exchange(request, counter, signal)).body;
  }

  /**
   * Like {@link send}, but an answer whose status is in `accept` comes back as it is instead of
   * being retried: a 403 to the enrollment fetch is an instruction (update first), not a fault.
   */
  async exchange(
    request: DeviceRequest,
    counter: RequestCounter,
    signal: AbortSignal,
    accept: readonly number[] = [],
  ): Promise<DeviceAnswer> {
    let lastStatus: number | undefined;
    let lastText = '';

    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      if (attempt > 1) {
        const delay = Math.min(this.maxBackoffMs, this.firstBackoffMs * 2 ** (attempt - 2));

        await sleep(jitter(delay * 0.75, delay * 1.25), signal);
      }

      try {
        const answer = await this.options.limiter.run(() => this.once(request, counter, signal));

        if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) {
          return answer;
        }

        lastStatus = answer.status;
        lastText = Buffer.from(answer.body).toString('utf8').slice(0, BODY_PREVIEW);
        this.options.log.warn('device request answered non-2xx', {
          udid: request.udid,
          what: request.what,
          status: answer.status,
          body: lastText,
          attempt,
        });
      } catch (error) {
        if (signal.aborted) {
          throw error;
        }

        lastStatus = undefined;
        lastText = messageOf((error as Error)?.cause ?? error);
        this.options.log.warn('device request failed', {
          udid: request.udid,
          what: request.what,
          reason: lastText,
          attempt,
        });
      }
    }

    throw new DeviceHttpError(request.what, lastStatus, lastText, this.maxAttempts);
  }

  private async once(
    request: DeviceRequest,
    counter: RequestCounter,
    signal: AbortSignal,
  ): Promise<DeviceAnswer> {
    counter.requests += 1;

    const response = await this.fetch(request.url, {
      method: request.method,
      headers: request.headers ?? {},
      ...(request.body ? { body: request.body } : {}),
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]),
    });
    const body = new Uint8Array(await response.arrayBuffer());

    return {
      status: response.status,
      body,
      contentType: response.headers.get('content-type') ?? '',
    };
  }
}

/** Where an enrollment talks to and with which identity. */
export interface EnrollmentEndpoints {
  serverUrl: string;
  checkInUrl: string;
  signer: RequestSigner;
}

/**
 * One enrollment's channel to the service: XML plist bodies, the right content type per URL, and
 * the `Mdm-Signature` of the enrollment's identity over the exact body bytes.
 */
export class MdmClient {
  constructor(
    private readonly http: DeviceHttp,
    private readonly endpoints: EnrollmentEndpoints,
    private readonly udid: string,
    private readonly counter: RequestCounter,
  ) {}

  /** A check-in message; resolves with the answer body. */
  checkIn(message: PlistDict, signal: AbortSignal): Promise<Uint8Array> {
    return this.put(
      `${String(message['MessageType'])} check-in`,
      this.endpoints.checkInUrl,
      CHECKIN_CONTENT_TYPE,
      message,
      signal,
    );
  }

  /** Idle or a command result; resolves with the next command's bytes or zero bytes. */
  report(message: PlistDict, signal: AbortSignal): Promise<Uint8Array> {
    const status = String(message['Status']);

    return this.put(
      status === 'Idle' ? 'Idle' : `${status} result`,
      this.endpoints.serverUrl,
      COMMAND_CONTENT_TYPE,
      message,
      signal,
    );
  }

  private put(
    what: string,
    url: string,
    contentType: string,
    message: PlistDict,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const body = encodePlistXml(message);

    return this.http.send(
      {
        what,
        udid: this.udid,
        method: 'PUT',
        url,
        body,
        headers: {
          'Content-Type': contentType,
          'Mdm-Signature': this.endpoints.signer.sign(body),
        },
      },
      this.counter,
      signal,
    );
  }
}
