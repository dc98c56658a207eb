import { IncomingMessage, ServerResponse } from 'node:http';

import { Logger } from './logger.js';

/**
 * The one place that turns an error on a device-facing route into an HTTP answer. Apple devices
 * treat 401 as "unenroll me", so nothing here ever answers 401: an identity problem is a 400.
 */
export function deviceErrorStatus(error: unknown): { status: number; code: string } {
  const code = errorCode(error);
  if (code === 'HTTP.BODY_TOO_LARGE' || code === 'PLIST.TOO_LARGE') {
    return { status: 413, code };
  }
  // Our own key material being unreadable is a server fault, not the device's.
  if (code === 'IDENTITY.MATERIAL_INVALID') {
    return { status: 500, code };
  }
  if (/^(PLIST|CHECKIN|CHANNEL|REPORT|COMMAND|PROFILE|DDM|MACHINE_INFO|IDENTITY|ENROLLMENT|DEVICE)\./.test(code)) {
    return { status: 400, code };
  }
  if (code === 'BUS.REQUEST_TIMEOUT' || code === 'BUS.NO_RESPONDER' || code === 'BUS.UNAVAILABLE' || code.startsWith('DEPENDENCY.')) {
    return { status: 503, code };
  }

  return { status: 500, code };
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;

  return typeof code === 'string' ? code : 'INTERNAL';
}

export interface DeviceReply {
  status: number;
  body?: Buffer | string;
  contentType?: string;
}

/** Writes a device reply exactly: a zero-byte 200 stays zero bytes (Apple: "no more commands"). */
export function writeDeviceReply(response: ServerResponse, reply: DeviceReply): void {
  const body = reply.body === undefined ? undefined : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body, 'utf8');
  response.statusCode = reply.status;
  if (body && body.length > 0) {
    response.setHeader('Content-Type', reply.contentType ?? 'application/xml');
  }
  response.setHeader('Content-Length', body?.length ?? 0);
  response.end(body);
}

/** Answers a failed device request and logs one line with the reason; never throws. */
export function answerDeviceError(
  response: ServerResponse,
  request: IncomingMessage,
  logger: Logger,
  error: unknown,
  fields: Record<string, unknown> = {},
): void {
  const { status, code } = deviceErrorStatus(error);
  const message = error instanceof Error ? error.message : String(error);
  const line = { ...fields, method: request.method, path: request.url, status, code, reason: message };
  if (status >= 500) {
    logger.error({ ...line, err: error }, 'device request failed');
  } else {
    logger.warn(line, 'device request refused');
  }
  writeDeviceReply(response, { status, body: status === 413 ? 'body too large' : code, contentType: 'text/plain' });
}
