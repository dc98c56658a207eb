import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the deployment files are checked against: facts read from the code itself, so that the
 * files cannot drift from it unnoticed.
 */
export const REPOSITORY = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function repositoryFile(path: string): string {
  return readFileSync(resolve(REPOSITORY, path), 'utf8');
}

function sourceFiles(dir: string): string[] {
  const root = resolve(REPOSITORY, dir);
  if (!existsSync(root)) {
    return [];
  }

  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((entry) => join(root, entry))
    .filter(
      (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && statSync(file).isFile(),
    );
}

// process.env.X, env.X, env['X'], and config.ts's helpers that take (env, 'X', ...).
const READS = [
  /\benv\.([A-Z][A-Z0-9_]*)\b/g,
  /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g,
  /\(\s*env\s*,\s*'([A-Z][A-Z0-9_]*)'/g,
];

function variablesReadIn(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of READS) {
      for (const match of text.matchAll(pattern)) {
        names.add(match[1]);
      }
    }
  }

  return names;
}

/** Every environment variable the services' configuration reads (libs/platform/src/config.ts). */
export function configurationVariables(): Set<string> {
  return variablesReadIn([resolve(REPOSITORY, 'libs/platform/src/config.ts')]);
}

/** The variables a process reads: the configuration's, plus any its own code reads. */
export function variablesReadBy(process: string): Set<string> {
  const own = process === 'simulator' ? ['libs/simulator/src'] : [];
  const names = variablesReadIn([`apps/${process}/src`, ...own].flatMap(sourceFiles));

  return new Set([...configurationVariables(), ...names]);
}

/** The process a container command starts, from `dist/apps/<name>/src/main.js`. */
export function processOf(script: string): string | undefined {
  return /^dist\/apps\/([a-z][a-z0-9-]*)\/src\/main\.js$/.exec(script)?.[1];
}

/** Whether the build (`swc apps libs -d dist`) puts a process's entry point at that script. */
export function entryPointBuilt(script: string): boolean {
  const name = processOf(script);

  return name !== undefined && existsSync(resolve(REPOSITORY, `apps/${name}/src/main.ts`));
}

// Processes whose code answers no probe: the launcher spawns the services, the simulator drives them.
const NOT_SERVICES = ['apps/launcher', 'apps/simulator', 'libs/simulator', 'libs/testing'];

/**
 * Whether a service process answers an HTTP path: the path is a string literal of the code the
 * processes run (the service libraries and apps, not their specs, the launcher or the simulator).
 */
export function pathServed(path: string): boolean {
  const files = ['apps', 'libs']
    .flatMap(sourceFiles)
    .filter(
      (file) => !NOT_SERVICES.some((dir) => relative(REPOSITORY, file).startsWith(`${dir}/`)),
    );

  return files.some((file) => readFileSync(file, 'utf8').includes(`'${path}'`));
}

export interface Route {
  service: string;
  prefixes: string[];
}

/** The launcher's path router, which plays the ingress in distributed mode on one machine. */
export function launcherRoutes(): Route[] {
  const text = repositoryFile('apps/launcher/src/main.ts');
  const routes = [
    ...text.matchAll(/\{ name: '([a-z]+)', port: [^,]+, prefixes: \[([^\]]*)\] \}/g),
  ].map(([, service, list]) => ({
    service,
    prefixes: [...list.matchAll(/'([^']+)'/g)].map((match) => match[1]),
  }));
  if (routes.length === 0) {
    throw new Error(
      'apps/launcher/src/main.ts: no SERVICES entries found; update launcherRoutes()',
    );
  }

  return routes.filter((route) => route.prefixes.length > 0);
}

/** The fenced `sh` blocks of a Markdown file, by the heading (## ...) they stand under. */
export function shellBlocks(markdownPath: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let heading = '';
  for (const part of repositoryFile(markdownPath).split(/^```/m).entries()) {
    const [index, text] = part;
    if (index % 2 === 0) {
      heading = [...text.matchAll(/^#+ (.+)$/gm)].at(-1)?.[1] ?? heading;
    } else if (text.startsWith('sh\n')) {
      blocks.set(heading, [...(blocks.get(heading) ?? []), text.slice(3)]);
    }
  }

  return blocks;
}

const IMPORTS =
  /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

/**
 * The npm packages a process loads at run time: the bare imports of every module reachable from
 * its entry point (apps/<name>/src/main.ts), following relative imports and @turnaround/<lib>.
 * Type-only imports are left out, as the build erases them.
 */
export function packagesImportedBy(process: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) {
      return;
    }
    seen.add(file);
    for (const [, fromClause, dynamic] of readFileSync(file, 'utf8').matchAll(IMPORTS)) {
      const specifier = fromClause ?? dynamic;
      const library = /^@turnaround\/([a-z-]+)$/.exec(specifier)?.[1];
      if (library) {
        visit(resolve(REPOSITORY, `libs/${library}/src/index.ts`));
      } else if (specifier.startsWith('.')) {
        visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      } else if (!specifier.startsWith('node:')) {
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
      }
    }
  };
  visit(resolve(REPOSITORY, `apps/${process}/src/main.ts`));

  return packages;
}

/** The processes the build produces: every app with an entry point. */
export function processes(): string[] {
  return readdirSync(resolve(REPOSITORY, 'apps')).filter((name) =>
    existsSync(resolve(REPOSITORY, `apps/${name}/src/main.ts`)),
  );
}
