import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { SERVICE_MALLOC_ARENAS, SERVICE_NODE_FLAGS } from '@turnaround/platform';

import { dockerfileProblems, ignoredByDockerignore, readDockerfile } from './dockerfile.js';
import {
  configurationVariables,
  entryPointBuilt,
  packagesImportedBy,
  processes,
  REPOSITORY,
  repositoryFile,
} from './repository.js';

const dockerfile = readDockerfile();
const dockerignore = repositoryFile('.dockerignore');
const runtime = dockerfile.stages.at(-1)!;

describe('Dockerfile', () => {
  it('has no problem the Dockerfile language service finds', () => {
    expect(dockerfile.problems).toEqual([]);
  });

  it('builds in one stage and runs in a final one, the default target', () => {
    expect(dockerfile.stages.map((stage) => stage.name)).toEqual(['build', 'runtime']);
  });

  it('runs as a numeric non-root user, so that Kubernetes can verify runAsNonRoot', () => {
    expect(runtime.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('starts node, by default on the embedded all-in-one entry point', () => {
    expect(runtime.entrypoint?.[0]).toBe('node');
    expect(entryPointBuilt(runtime.command?.[0] ?? '')).toBe(true);
  });

  it('starts node with the flags and malloc arenas of every service process', () => {
    expect(runtime.entrypoint?.slice(1)).toEqual(SERVICE_NODE_FLAGS);
    expect(runtime.env.get('MALLOC_ARENA_MAX')).toBe(SERVICE_MALLOC_ARENAS);
    // npm start and npm run start:distributed run the same, unless the caller sets the arenas.
    const scripts = JSON.parse(repositoryFile('package.json')).scripts as Record<string, string>;
    for (const name of ['start', 'start:distributed']) {
      expect(scripts[name]).toContain(
        `MALLOC_ARENA_MAX=\${MALLOC_ARENA_MAX:-${SERVICE_MALLOC_ARENAS}} node ${SERVICE_NODE_FLAGS.join(' ')} dist/`,
      );
    }
  });

  it('sets only variables the services read, and listens beyond loopback', () => {
    // NODE_ENV is Express's: production turns off stack traces in error pages. MALLOC_ARENA_MAX
    // is glibc's.
    const read = new Set([...configurationVariables(), 'NODE_ENV', 'MALLOC_ARENA_MAX']);

    expect([...runtime.env.keys()].filter((name) => !read.has(name))).toEqual([]);
    expect(runtime.env.get('HOST')).toBe('0.0.0.0');
  });

  it('keeps every package a process loads once dev dependencies are pruned', () => {
    const dependencies = Object.keys(JSON.parse(repositoryFile('package.json')).dependencies);
    const missing = processes().flatMap((process) =>
      [...packagesImportedBy(process)]
        .filter((name) => !dependencies.includes(name))
        .map((name) => `${process}: ${name}`),
    );

    expect(missing).toEqual([]);
    // The walk reaches through the service libraries, or the check above would prove little.
    expect([...packagesImportedBy('checkin')]).toEqual(
      expect.arrayContaining(['@nestjs/core', 'amqplib', 'pg', 'node-forge']),
    );
  });

  it('copies from the build context only files that exist and that .dockerignore lets in', () => {
    const sources = dockerfile.stages.flatMap((stage) => stage.contextSources);

    expect(sources.length).toBeGreaterThan(0);
    expect(
      sources.filter(
        (source) =>
          !existsSync(resolve(REPOSITORY, source)) || ignoredByDockerignore(source, dockerignore),
      ),
    ).toEqual([]);
  });

  it('keeps keys, local data, build output and specs out of the build context', () => {
    const kept = [
      'secrets/ca.key',
      'data/escrow-keys.json',
      'dist/apps/checkin/src/main.js',
      'node_modules/pg/package.json',
      '.git/config',
      'libs/platform/src/config.spec.ts',
    ];

    expect(kept.filter((path) => !ignoredByDockerignore(path, dockerignore))).toEqual([]);
    expect(ignoredByDockerignore('libs/platform/src/config.ts', dockerignore)).toBe(false);
  });
});

describe('the Dockerfile check', () => {
  it('refuses an unknown flag and an unknown instruction', () => {
    expect(
      dockerfileProblems('FROM node:20-slim AS build\nCOPY --form=build a b\nUSR 1000\n'),
    ).toEqual(['line 2: Unknown flag: form', 'line 3: Unknown instruction: USR']);
  });
});

describe('.dockerignore matching', () => {
  it('lets the last matching pattern decide, with ! re-including and ** crossing directories', () => {
    const rules = '*\n!apps/\n**/*.spec.ts\n!apps/keep.spec.ts\n';

    expect(
      ['apps/a/b.ts', 'apps/a/b.spec.ts', 'apps/keep.spec.ts', 'README.md'].map((path) =>
        ignoredByDockerignore(path, rules),
      ),
    ).toEqual([false, true, false, true]);
  });
});
