import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { NextFunction, Request, Response } from 'express';

import { runWithLogContext } from '@turnaround/platform';

export const REQUEST_ID_HEADER = 'X-Request-Id';

// An id a proxy or client chose is kept so its lines and ours can be joined, but only when it is
// short and plain: it lands in every log line of the request and in the response.
const USABLE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Runs `work` for one HTTP request in a log context of its own: the caller's `X-Request-Id` when
 * usable, a fresh one otherwise, echoed in the response so a device or operator report can be
 * traced.
 */
export function inRequestContext<T>(
  request: IncomingMessage,
  response: ServerResponse,
  work: () => T,
): T {
  const header = request.headers['x-request-id'];
  const offered = Array.isArray(header) ? header[0] : header;
  const correlationId =
    offered !== undefined && USABLE_REQUEST_ID.test(offered) ? offered : randomUUID();
  response.setHeader(REQUEST_ID_HEADER, correlationId);

  return runWithLogContext({ correlationId }, work);
}

/** {@link inRequestContext} for every request Express routes. */
export function requestContext(request: Request, response: Response, next: NextFunction): void {
  inRequestContext(request, response, next);
}
