import { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  readonly code = 'HTTP.BODY_TOO_LARGE';

  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/**
 * Reads a device request's exact bytes: the Mdm-Signature covers them, so no parser may touch the
 * body first. Stops reading past the limit instead of buffering an attacker's gigabyte.
 */
export async function readRawBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    throw new BodyTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      request.resume();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(chunk as Buffer);
  }

  return Buffer.concat(chunks, size);
}
