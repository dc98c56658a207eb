import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { PlistDict, PlistValue } from '../plist-types.js';

// A deliberately tiny reader for Apple's device-management schema YAML: it understands only the
// `- key:` / `type:` / `rangelist:` layout of the `payloadkeys` and `responsekeys` sections, which
// is all the schema spec needs. No YAML package is installed, and none is needed for this.

export const SCHEMA_ROOT = path.resolve(
  process.cwd(),
  '../shared/reference/apple-device-management',
);

export interface SchemaEntry {
  /** Key names from the section root, e.g. ['ReturnToService', 'Enabled']. */
  path: string[];
  type?: string;
  rangelist: string[];
}

export interface SchemaFile {
  file: string;
  text: string;
  requestType?: string;
  payloadType?: string;
  payloadkeys: SchemaEntry[];
  responsekeys: SchemaEntry[];
}

export function schemaExists(relative: string): boolean {
  return existsSync(path.join(SCHEMA_ROOT, relative));
}

export function readSchema(relative: string): SchemaFile {
  const text = readFileSync(path.join(SCHEMA_ROOT, relative), 'utf8');
  const sections: Record<'payloadkeys' | 'responsekeys', SchemaEntry[]> = {
    payloadkeys: [],
    responsekeys: [],
  };
  let current: SchemaEntry[] | undefined;
  const stack: Array<{ indent: number; entry: SchemaEntry }> = [];
  let rangelistIndent = -1;

  for (const line of text.split('\n')) {
    const top = /^([a-z]\w*):/.exec(line);

    if (top !== null) {
      current =
        top[1] === 'payloadkeys' || top[1] === 'responsekeys' ? sections[top[1]] : undefined;
      stack.length = 0;
      rangelistIndent = -1;
      continue;
    }
    if (current === undefined) continue;

    const key = /^(\s*)- key: (.+?)\s*$/.exec(line);

    if (key !== null) {
      const indent = key[1]?.length ?? 0;

      while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();

      const entry: SchemaEntry = {
        path: [...stack.map((s) => s.entry.path[s.entry.path.length - 1] ?? ''), key[2] ?? ''],
        rangelist: [],
      };

      current.push(entry);
      stack.push({ indent, entry });
      rangelistIndent = -1;
      continue;
    }

    const owner = stack[stack.length - 1];

    if (owner === undefined) continue;

    const type = /^(\s*)type: <(\w+)>/.exec(line);

    if (
      type !== null &&
      (type[1]?.length ?? 0) === owner.indent + 2 &&
      owner.entry.type === undefined
    ) {
      owner.entry.type = type[2];
      continue;
    }

    const range = /^(\s*)rangelist:/.exec(line);

    if (range !== null && (range[1]?.length ?? 0) === owner.indent + 2) {
      rangelistIndent = owner.indent + 2;
      continue;
    }

    const item = /^(\s*)- (.+?)\s*$/.exec(line);

    if (rangelistIndent >= 0 && item !== null && (item[1]?.length ?? 0) >= rangelistIndent) {
      owner.entry.rangelist.push((item[2] ?? '').replace(/^'(.*)'$/, '$1'));
    } else if (!/^\s*$/.test(line)) {
      rangelistIndent = -1;
    }
  }

  return {
    file: relative,
    text,
    requestType: /^ {2}requesttype: (\S+)/m.exec(text)?.[1],
    payloadType: /^ {2}payloadtype: (\S+)/m.exec(text)?.[1],
    ...sections,
  };
}

export function findEntry(entries: SchemaEntry[], keyPath: string[]): SchemaEntry | undefined {
  return entries.find(
    (entry) => entry.path.length === keyPath.length && entry.path.every((k, i) => k === keyPath[i]),
  );
}

/** The plist type name of a value as the schema spells it. */
export function schemaTypeOf(value: PlistValue): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'real';
  if (value instanceof Date) return 'date';
  if (value instanceof Uint8Array) return 'data';
  if (Array.isArray(value)) return 'array';

  return 'dictionary';
}

function sampleFor(type: string | undefined): PlistValue {
  switch (type) {
    case 'boolean':
      return true;
    case 'integer':
      return 7;
    case 'real':
      return 1.5;
    case 'date':
      return new Date('2024-01-01T00:00:00Z');
    case 'data':
      return new Uint8Array([1, 2, 3]);
    case 'array':
      return [];
    case 'dictionary':
      return {};
    default:
      return 'sample';
  }
}

/** A dictionary holding every key (and dictionary subkey) of a section, with sample values. */
export function sampleDictionary(entries: SchemaEntry[], prefix: string[] = []): PlistDict {
  const dict: PlistDict = {};

  for (const entry of entries) {
    if (entry.path.length !== prefix.length + 1) continue;
    if (!prefix.every((k, i) => entry.path[i] === k)) continue;

    const name = entry.path[prefix.length] ?? '';

    dict[name] =
      entry.type === 'dictionary' ? sampleDictionary(entries, entry.path) : sampleFor(entry.type);
  }

  return dict;
}
