import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers one device request from Node's own request and response; never throws. */
export type DeviceRouteHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export interface DeviceRouteSpec {
  /** Upper-case HTTP methods. */
  methods: readonly string[];
  /** The exact path, without a query. */
  path: string;
}

export interface BoundDeviceRoute extends DeviceRouteSpec {
  handle: DeviceRouteHandler;
}

const routesByClass = new WeakMap<object, (DeviceRouteSpec & { property: string | symbol })[]>();

/**
 * Marks a controller method as the answer to a device URL, taking `(request, response)` as Node
 * gives them. The process serves such URLs straight from its HTTP server, ahead of Express and
 * Nest's routing: a fleet's Idles are most of the traffic, and the framework's routing cost as
 * much CPU as the signature check. The method keeps its Nest route too, which answers any request
 * the direct path does not match (another spelling of the path) exactly the same way.
 */
export function DeviceRoute(methods: readonly string[], path: string): MethodDecorator {
  return (target, property) => {
    const routes = routesByClass.get(target.constructor) ?? [];
    routes.push({ methods: methods.map((method) => method.toUpperCase()), path, property });
    routesByClass.set(target.constructor, routes);
  };
}

/** The device routes an object's class declares, bound to it. */
export function deviceRoutesOf(instance: object): BoundDeviceRoute[] {
  const routes = routesByClass.get(instance.constructor) ?? [];

  return routes.map(({ methods, path, property }) => {
    const method = (instance as Record<string | symbol, unknown>)[property];
    if (typeof method !== 'function') {
      throw new Error(`@DeviceRoute ${String(property)} of ${instance.constructor.name} is not a method`);
    }

    return { methods, path, handle: (method as DeviceRouteHandler).bind(instance) };
  });
}

/** Finds the route for a request by method and exact path. */
export class DeviceRouteTable {
  private readonly routes = new Map<string, DeviceRouteHandler>();

  add(route: BoundDeviceRoute): void {
    for (const method of route.methods) {
      const key = `${method} ${route.path}`;
      if (this.routes.has(key)) {
        throw new Error(`two device routes for ${key}`);
      }
      this.routes.set(key, route.handle);
    }
  }

  get size(): number {
    return this.routes.size;
  }

  match(request: IncomingMessage): DeviceRouteHandler | undefined {
    const url = request.url ?? '';
    const query = url.indexOf('?');

    return this.routes.get(`${request.method} ${query === -1 ? url : url.slice(0, query)}`);
  }
}
