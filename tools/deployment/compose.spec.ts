import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  buildProblems,
  composeSchemaProblems,
  dependencyProblems,
  environmentOf,
  healthcheckProblems,
  processProblems,
  publicationProblems,
  readCompose,
  relayProblems,
  routerProblems,
  secretProblems,
} from './compose.js';
import { readDockerfile } from './dockerfile.js';
import { documentedKeyFiles } from './documented-keys.js';
import { repositoryFile } from './repository.js';

const { text, compose } = readCompose();
const dockerfile = readDockerfile();

function exitCodeOf(command: string[], port: number): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      command,
      { env: { PATH: process.env.PATH, PORT: String(port) }, timeout: 10_000 },
      (error) => resolve(error ? Number(error.code ?? 1) : 0),
    );
  });
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(composeSchemaProblems(compose)).toEqual([]);
  });

  it('builds every Turnaround service from the repository Dockerfile, a stage and ARGs it has', () => {
    expect(buildProblems(compose, dockerfile)).toEqual([]);
  });

  it('runs processes the build produces, with only variables they read', () => {
    expect(processProblems(compose, dockerfile)).toEqual([]);
  });

  it('starts each service after what it needs: the broker, the database and the migration', () => {
    const services = ['checkin', 'commands', 'escrow', 'provisioning', 'relay'];

    expect(dependencyProblems(compose)).toEqual([]);
    for (const name of services) {
      expect(compose.services[name].depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        rabbitmq: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('checks health on paths the processes serve, on the port they listen on', () => {
    expect(healthcheckProblems(compose, dockerfile)).toEqual([]);
  });

  it('reads keys only from files under ./secrets that k8s/README.md makes', () => {
    expect(secretProblems(compose, documentedKeyFiles())).toEqual([]);
  });

  it('routes like the launcher, and gives devices and the simulator the router as their URL', () => {
    expect(routerProblems(compose, dockerfile)).toEqual([]);
  });

  it('publishes ports on loopback only', () => {
    expect(publicationProblems(compose)).toEqual([]);
  });

  it('lets the relay publish the outboxes', () => {
    expect(relayProblems(compose, dockerfile)).toEqual([]);
    expect(compose.services.relay).toMatchObject({ deploy: { replicas: 2 } });
  });

  it('keeps the simulator under its profile', () => {
    expect(compose.services.simulator.profiles).toEqual(['simulator']);
  });

  it('has no $ that Compose would take for a variable', () => {
    expect(text.replace(/\$\$/g, '')).not.toContain('$');
  });

  it('still brings up the PostgreSQL and RabbitMQ that `npm run start:distributed` uses by default', () => {
    const launcher = repositoryFile('apps/launcher/src/main.ts');
    const database = new URL(/env\.DATABASE_URL \?\? '([^']+)'/.exec(launcher)![1]);
    const broker = new URL(/env\.AMQP_URL \?\? '([^']+)'/.exec(launcher)![1]);
    const postgres = environmentOf(compose.services.postgres);
    const rabbitmq = environmentOf(compose.services.rabbitmq);

    expect(compose.services.postgres.ports).toContain(`127.0.0.1:${database.port}:5432`);
    expect([
      postgres.get('POSTGRES_USER'),
      postgres.get('POSTGRES_DB'),
      postgres.get('POSTGRES_HOST_AUTH_METHOD'),
    ]).toEqual([database.username, database.pathname.slice(1), 'trust']);
    expect(compose.services.rabbitmq.ports).toContain(`127.0.0.1:${broker.port}:5672`);
    expect([rabbitmq.get('RABBITMQ_DEFAULT_USER'), rabbitmq.get('RABBITMQ_DEFAULT_PASS')]).toEqual([
      broker.username,
      broker.password,
    ]);
  });

  describe('the services’ health check command', () => {
    let server: Server;
    let port = 0;
    let status = 200;
    const asked: string[] = [];
    const command = compose.services.checkin.healthcheck?.test as string[];

    beforeAll(async () => {
      server = createServer((request, response) => {
        asked.push(request.url ?? '');
        response.writeHead(status).end();
      });
      await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

    it('runs with node alone, as the image has no curl', () => {
      expect(command.slice(0, 2)).toEqual(['CMD', 'node']);
    });

    it('succeeds when the process answers its readiness path with 200', async () => {
      status = 200;

      expect(await exitCodeOf(command.slice(2), port)).toBe(0);
      expect(asked.at(-1)).toBe('/readyz');
    });

    it('fails when the process is not ready', async () => {
      status = 503;

      expect(await exitCodeOf(command.slice(2), port)).toBe(1);
    });

    it('fails when nothing listens', async () => {
      const closed = await new Promise<number>((found) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const free = (probe.address() as AddressInfo).port;
          probe.close(() => found(free));
        });
      });

      expect(await exitCodeOf(command.slice(2), closed)).toBe(1);
    });
  });

  describe('its checks', () => {
    it('refuse a misspelt key and a wrong type, by the schema', () => {
      const broken = structuredClone(compose) as unknown as {
        services: Record<string, Record<string, unknown>>;
      };
      broken.services.router.restrat = 'always';
      broken.services.router.ports = '127.0.0.1:8080:8080';

      expect(composeSchemaProblems(broken)).toEqual([
        '/services/router must NOT have additional properties',
        '/services/router/ports must be array',
      ]);
    });

    it('refuse a stage the Dockerfile lacks, a dependency that cannot be met and a secret the guide does not make', () => {
      const broken = structuredClone(compose);
      broken.services.escrow.build = { context: '.', target: 'production' };
      broken.services.router.depends_on = { migrate: { condition: 'service_healthy' } };
      broken.secrets = { ...broken.secrets, 'escrow-key-ring': { file: './escrow-keys.json' } };

      expect(buildProblems(broken, dockerfile)).toEqual([
        'escrow: the Dockerfile has no stage production',
      ]);
      expect(dependencyProblems(broken)).toEqual([
        'router: waits for migrate to be healthy, which has no health check',
      ]);
      expect(secretProblems(broken, documentedKeyFiles())).toEqual([
        'secret escrow-key-ring: ./escrow-keys.json is not a file the deployment guide makes',
      ]);
    });

    it('refuse a route the launcher does not have', () => {
      const broken = structuredClone(compose);
      broken.configs!.router.content = broken.configs!.router.content!.replace(
        'location /api/',
        'location /admin/',
      );

      expect(routerProblems(broken, dockerfile).join('\n')).toMatch(
        /routes .*provisioning \/\/admin =\/api, the launcher/,
      );
    });
  });
});
