import { AddressInfo, createServer, Server } from 'node:net';

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
}

/** A loopback port nothing listens on right now, for a server a test is about to start. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));

  return port;
}

/** A run of `count` consecutive free loopback ports (the launcher puts its services on one). */
export async function freeLoopbackPortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers: Server[] = [];
    try {
      for (let offset = 0; offset < count; offset += 1) {
        const server = createServer();
        await listen(server, base + offset);
        servers.push(server);
      }

      return base;
    } catch {
      // One of them is taken: try another base.
    } finally {
      await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
