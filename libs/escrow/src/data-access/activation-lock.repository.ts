import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { Injectable, OnModuleDestroy } from '@nestjs/common';

import type { TurnaroundConfig } from '@turnaround/platform';

import type { UnlockAnswer } from '../domain/activation-lock.js';
import { UnlockCredentialsError } from '../domain/escrow.errors.js';

/** Where and how to reach Apple's escrowKeyUnlock endpoint. */
export interface UnlockEndpoint {
  url: URL;
  timeoutMs: number;
  /** PEM; Apple authenticates the caller by its MDM push certificate (TLS client auth). */
  clientCertificate?: Buffer;
  clientKey?: Buffer;
  /** Trust anchors besides the system's, which already sign Apple's endpoint (tests). */
  ca?: Buffer;
}

// An error page is read this far and no further: only its start is ever shown.
const ANSWER_BYTES = 4096;

/** Apple's Activation Lock unlock endpoint; the only place escrow talks to the outside. */
@Injectable()
export class ActivationLockRepository implements OnModuleDestroy {
  private readonly agent: https.Agent | undefined;

  constructor(private readonly endpoint: UnlockEndpoint | null) {
    if (endpoint?.url.protocol === 'https:') {
      this.agent = new https.Agent({
        cert: endpoint.clientCertificate,
        key: endpoint.clientKey,
        ca: endpoint.ca,
        keepAlive: false,
      });
    }
  }

  /**
   * The endpoint from the configuration, with its client certificate read and checked now, so a
   * wrong file stops the boot instead of failing the first unlock.
   */
  static endpointOf(config: TurnaroundConfig): UnlockEndpoint | null {
    if (!config.activationLockUnlockUrl) {
      return null;
    }
    const endpoint: UnlockEndpoint = {
      url: new URL(config.activationLockUnlockUrl),
      timeoutMs: config.requestTimeoutMs,
    };
    const { activationLockClientCertPath: certPath, activationLockClientKeyPath: keyPath } = config;
    if (!certPath || !keyPath) {
      return endpoint;
    }
    try {
      const certificate = readFileSync(certPath);
      const key = readFileSync(keyPath);
      if (!new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key))) {
        throw new Error('the key does not belong to the certificate');
      }

      return { ...endpoint, clientCertificate: certificate, clientKey: key };
    } catch (error) {
      throw new UnlockCredentialsError(
        `the Activation Lock client certificate ${certPath} or key ${keyPath} cannot be used: ${messageOf(error)}`,
      );
    }
  }

  get configured(): boolean {
    return this.endpoint !== null;
  }

  /** POSTs the form; resolves with what happened and never rejects. */
  async escrowKeyUnlock(query: URLSearchParams, form: URLSearchParams): Promise<UnlockAnswer> {
    const endpoint = this.endpoint;
    if (!endpoint) {
      return { kind: 'unreachable', reason: 'no endpoint configured' };
    }
    const url = new URL(endpoint.url);
    for (const [name, value] of query) {
      url.searchParams.set(name, value);
    }
    const payload = Buffer.from(form.toString(), 'utf8');
    const client = url.protocol === 'https:' ? https : http;

    return new Promise<UnlockAnswer>((settle) => {
      let settled = false;
      const finish = (answer: UnlockAnswer): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          settle(answer);
        }
      };
      const request = client.request(url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': payload.length,
        },
      });
      // One deadline for the whole exchange: a server that trickles its answer is as stuck as
      // one that never answers.
      const timer = setTimeout(() => {
        finish({ kind: 'timed-out', afterMs: endpoint.timeoutMs });
        request.destroy();
      }, endpoint.timeoutMs);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < ANSWER_BYTES) {
            chunks.push(chunk.subarray(0, ANSWER_BYTES - kept));
            kept += Math.min(chunk.length, ANSWER_BYTES - kept);
          }
        });
        response.on('end', () =>
          finish({
            kind: 'answered',
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', (error) => finish({ kind: 'unreachable', reason: reasonOf(error) }));
      });
      request.on('error', (error) => finish({ kind: 'unreachable', reason: reasonOf(error) }));
      request.end(payload);
    });
  }

  onModuleDestroy(): void {
    this.agent?.destroy();
  }
}

/** The error's code (ECONNREFUSED, CERT_HAS_EXPIRED…), which says enough and holds no data. */
function reasonOf(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
