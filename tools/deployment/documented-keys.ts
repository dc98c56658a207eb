import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { shellBlocks } from './repository.js';

export const DEPLOYMENT_GUIDE = 'k8s/README.md';

function block(heading: string): string {
  const [text, ...others] = shellBlocks(DEPLOYMENT_GUIDE).get(heading) ?? [];
  if (text === undefined || others.length > 0) {
    throw new Error(`${DEPLOYMENT_GUIDE}: expected one sh block under "${heading}"`);
  }

  return text;
}

/** Runs the guide's "Make the keys" commands in a fresh directory and returns that directory. */
export function makeDocumentedKeys(): string {
  const directory = mkdtempSync(join(tmpdir(), 'turnaround-keys-'));
  execFileSync('bash', ['-euo', 'pipefail', '-c', block('Make the keys')], {
    cwd: directory,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  return directory;
}

/** The files the "Make the keys" commands write (their `-keyout`, `-out` and `>` targets). */
export function documentedKeyFiles(): string[] {
  const text = block('Make the keys');

  return [...text.matchAll(/(?:-keyout|-out|>)\s+(secrets\/[\w.-]+)/g)].map((match) => match[1]);
}

export interface DocumentedSecret {
  name: string;
  type: 'tls' | 'generic';
  keys: Set<string>;
  /** The values given inline with --from-literal, by key. */
  literals: Map<string, string>;
}

/**
 * The Secrets the guide's "Create the Secrets" commands create, with their keys. Keys of an
 * --from-env-file are read from that file as the key commands made it in `keysDirectory`.
 */
export function documentedSecrets(keysDirectory: string): Map<string, DocumentedSecret> {
  const secrets = new Map<string, DocumentedSecret>();
  for (const line of block('Create the Secrets').split('\n')) {
    const command = /^kubectl(?: -n \S+)? create secret (tls|generic) (\S+) (.*)$/.exec(
      line.trim(),
    );
    if (!command) {
      continue;
    }
    const [, type, name, flags] = command;
    const secret: DocumentedSecret = {
      name,
      type: type as 'tls' | 'generic',
      keys: new Set(),
      literals: new Map(),
    };
    if (type === 'tls') {
      secret.keys = new Set(['tls.crt', 'tls.key']);
    }
    for (const [, flag, value] of flags.matchAll(/--([a-z-]+)=('[^']*'|\S+)/g)) {
      const unquoted = value.replace(/^'|'$/g, '');
      if (flag === 'from-literal' || flag === 'from-file') {
        const [key, ...rest] = unquoted.split('=');
        secret.keys.add(rest.length > 0 || flag === 'from-literal' ? key : basename(key));
        if (flag === 'from-literal') {
          secret.literals.set(key, rest.join('=').replace(/^'|'$/g, ''));
        }
      } else if (flag === 'from-env-file') {
        for (const entry of readFileSync(join(keysDirectory, unquoted), 'utf8').split('\n')) {
          const key = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(entry)?.[1];
          if (key) {
            secret.keys.add(key);
          }
        }
      }
    }
    secrets.set(name, secret);
  }

  return secrets;
}
