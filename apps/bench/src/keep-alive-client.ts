import { connect, Socket } from 'node:net';

import type { Target } from './service-under-test.js';

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

interface Waiting {
  resolve: (answer: HttpAnswer) => void;
  reject: (error: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The exact bytes of one HTTP/1.1 request with a body, built once and sent as often as needed:
 * a device's Idle or check-in body never changes, and neither does its signature.
 */
export function httpRequest(
  target: Target,
  method: 'PUT' | 'POST',
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Buffer {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${target.host}:${target.port}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${body.length}`,
    '',
    '',
  ];

  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]);
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time, as a device's session is. Written
 * on the bare socket because Node's HTTP client costs several times more CPU per request than the
 * service's answer to an Idle, and the load generator shares the machine's cores with it. It
 * reads answers with a Content-Length, which is how the service answers devices; anything else
 * is reported as an error rather than guessed at.
 */
export class KeepAliveConnection {
  private socket?: Socket;
  private connecting?: Promise<Socket>;
  private waiting?: Waiting;
  private received: Buffer = Buffer.alloc(0);

  constructor(private readonly target: Target) {}

  async send(request: Buffer): Promise<HttpAnswer> {
    const socket = this.socket ?? (await this.open());

    return new Promise<HttpAnswer>((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Promise<Socket> {
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.target.host, port: this.target.port, noDelay: true });

      socket.once('connect', () => {
        this.socket = socket;
        this.connecting = undefined;
        resolve(socket);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => {
        if (this.connecting) {
          this.connecting = undefined;
          reject(error);
        }
        this.fail(error);
      });
      socket.on('close', () => {
        if (this.socket === socket) {
          this.socket = undefined;
        }
        this.fail(new Error('connection closed by the server'));
      });
    });

    return this.connecting;
  }

  private fail(error: Error): void {
    const waiting = this.waiting;

    this.waiting = undefined;
    this.received = Buffer.alloc(0);
    waiting?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);

    const headerEnd = this.received.indexOf(HEADER_END);

    if (headerEnd === -1) {
      return;
    }

    const head = this.received.subarray(0, headerEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    const closes = /\r\nconnection:\s*close/i.test(head);

    if (!Number.isInteger(status) || length === undefined) {
      this.close();
      this.fail(new Error(`unreadable answer head: ${head.split('\r\n')[0] ?? ''}`));

      return;
    }

    const bodyStart = headerEnd + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length);

    if (this.received.length < bodyEnd) {
      return;
    }

    const body = this.received.subarray(bodyStart, bodyEnd);
    const waiting = this.waiting;

    this.received = Buffer.alloc(0);
    this.waiting = undefined;
    if (closes) {
      this.close();
    }
    waiting?.resolve({ status, body });
  }
}
