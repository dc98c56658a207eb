import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

import { createLogger, DeviceRouteTable, deviceRoutesOf, writeDeviceReply } from '@turnaround/platform';

import { inRequestContext } from './request-context.js';

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Puts the controllers' `@DeviceRoute` methods in front of Express: a request whose method and
 * exact path match one is answered by it directly, every other request goes to Express as before.
 */
export function serveDeviceRoutesDirectly(app: INestApplication): DeviceRouteTable {
  const table = new DeviceRouteTable();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      if (wrapper.instance) {
        deviceRoutesOf(wrapper.instance as object).forEach((route) => table.add(route));
      }
    }
  }
  const server = app.getHttpServer() as Server;
  const [framework, ...others] = server.listeners('request') as RequestListener[];
  if (table.size === 0 || !framework || others.length > 0) {
    // Nothing to serve directly, or a server set up otherwise than this code knows: leave it.
    return table;
  }
  const logger = createLogger('DeviceRoutes');
  server.removeListener('request', framework);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const handle = table.match(request);
    if (!handle) {
      framework(request, response);

      return;
    }
    void inRequestContext(request, response, () =>
      handle(request, response).catch((error: unknown) => {
        // Handlers answer their own errors; this is for one that failed to.
        logger.error({ err: error, method: request.method, path: request.url }, 'device route failed');
        if (!response.headersSent) {
          writeDeviceReply(response, { status: 500, body: 'INTERNAL', contentType: 'text/plain' });
        }
      }),
    );
  });

  return table;
}
