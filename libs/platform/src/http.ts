import { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  readonly code = 'HTTP.BODY_TOO_LARGE';

  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/**
 * Reads a device request's exact bytes: the Mdm-Signature covers them, so no parser may touch the
 * body first. Past the limit the rest is read and thrown away rather than kept, so the client
 * still gets its 413 instead of a reset connection.
 */
export async function readRawBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  const tooLarge = Number.isFinite(declared) && declared > limit;
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((done, fail) => {
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!tooLarge && size <= limit) {
        chunks.push(chunk);
      }
    });
    request.once('end', done);
    request.once('error', fail);
  });
  if (tooLarge || size > limit) {
    throw new BodyTooLargeError(limit);
  }

  return Buffer.concat(chunks, size);
}
