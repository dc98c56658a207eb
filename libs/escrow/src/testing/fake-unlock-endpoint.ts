import {
  createServer as createHttpServer,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';

/** One request the fake endpoint received, taken apart. */
export interface UnlockCall {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  form: URLSearchParams;
  /** SHA-256 fingerprint of the TLS client certificate, when one was presented. */
  clientCertificate?: string;
}

export type FakeAnswer = { status: number; text?: string } | 'hang';

export interface FakeUnlockEndpoint {
  url: string;
  calls: UnlockCall[];
  close(): Promise<void>;
}

/**
 * Apple's escrowKeyUnlock as tests need it: on 127.0.0.1, port 0, answering what `answer` says.
 * With `tls`, it asks for a client certificate and records it without judging it.
 */
export async function startFakeUnlockEndpoint(
  answer: (call: UnlockCall) => FakeAnswer,
  tls?: { cert: Buffer; key: Buffer },
): Promise<FakeUnlockEndpoint> {
  const calls: UnlockCall[] = [];
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const socket = request.socket as TLSSocket;
      const peer = tls ? socket.getPeerCertificate() : undefined;
      const call: UnlockCall = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        contentType: request.headers['content-type'],
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
        ...(peer?.fingerprint256 ? { clientCertificate: peer.fingerprint256 } : {}),
      };
      calls.push(call);
      const reply = answer(call);
      if (reply === 'hang') {
        return;
      }
      response.writeHead(reply.status, { 'content-type': 'text/plain' });
      response.end(reply.text ?? '');
    });
  };
  const server: Server = tls
    ? createHttpsServer(
        { cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false },
        handle,
      )
    : createHttpServer(handle);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/deviceservicesworkers/escrowKeyUnlock`,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}
