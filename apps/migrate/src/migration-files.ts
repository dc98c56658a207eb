import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import type { Dialect } from '@turnaround/testing';

import type { SchemaChanges, SchemaStatement } from './schema-drift.js';

/** `1767225600000-AddCycleIndexes.ts`: when it was written, then what it does. */
const MIGRATION_FILE = /^(\d{13})-([A-Z][A-Za-z0-9]*)\.ts$/;

/** A migration's name: a PascalCase word, since it becomes part of a class name. */
export const MIGRATION_NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;

export interface MigrationFile {
  file: string;
  className: string;
  timestamp: number;
}

export function migrationFileName(name: string, timestamp: number): string {
  return `${timestamp}-${name}.ts`;
}

/** The migrations folder of a service's library, relative to the repository. */
export function migrationsFolder(service: string): string {
  return join('libs', service, 'src', 'data-access', 'migrations');
}

/**
 * The source of one migration class. TypeORM orders migrations by the 13-digit timestamp that
 * ends the class name. `down` undoes `up` statement by statement, last first.
 */
export function migrationSource(
  name: string,
  timestamp: number,
  changes: SchemaChanges,
  origin: { service: string; dialect: Dialect },
): string {
  const className = `${name}${timestamp}`;
  const body = (statements: SchemaStatement[]) =>
    statements.map((statement) => `    await queryRunner.query(${callArguments(statement)});`);
  const database = origin.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite';

  return [
    `// Written by \`npm run migrations:generate -- ${name}\` from the ${origin.service} entities`,
    `// (${database}), then read over by hand.`,
    `import type { MigrationInterface, QueryRunner } from 'typeorm';`,
    '',
    `export class ${className} implements MigrationInterface {`,
    `  name = '${className}';`,
    '',
    '  async up(queryRunner: QueryRunner): Promise<void> {',
    ...body(changes.up),
    '  }',
    '',
    '  async down(queryRunner: QueryRunner): Promise<void> {',
    ...body([...changes.down].reverse()),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The migrations in one dialect folder, oldest first. */
export function listMigrations(folder: string): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }

  return names
    .flatMap((file) => {
      const match = MIGRATION_FILE.exec(file);

      return match
        ? [{ file, className: `${match[2]}${match[1]}`, timestamp: Number(match[1]) }]
        : [];
    })
    .sort((a, b) => a.timestamp - b.timestamp || a.file.localeCompare(b.file));
}

/** The source of a service's migration list: every file of both dialect folders, oldest first. */
export function registrySource(service: string, files: Record<Dialect, MigrationFile[]>): string {
  const prefix = { postgres: 'Postgres', sqlite: 'Sqlite' } as const;
  const dialects = ['postgres', 'sqlite'] as const;
  const imports = dialects.flatMap((dialect) =>
    files[dialect].map(
      (migration) =>
        `import { ${migration.className} as ${prefix[dialect]}${migration.className} } from './${dialect}/${migration.file.replace(/\.ts$/, '.js')}';`,
    ),
  );
  const list = (dialect: Dialect) =>
    files[dialect].map((migration) => `${prefix[dialect]}${migration.className}`).join(', ');

  return [
    '// Written by `npm run migrations:generate`: every migration in this folder, oldest first.',
    "import type { ServiceMigrations } from '@turnaround/platform';",
    '',
    ...imports,
    ...(imports.length > 0 ? [''] : []),
    `export const ${service.toUpperCase()}_MIGRATIONS: ServiceMigrations = {`,
    `  postgres: [${list('postgres')}],`,
    `  sqlite: [${list('sqlite')}],`,
    '};',
    '',
  ].join('\n');
}

function callArguments(statement: SchemaStatement): string {
  const text = `\`${statement.query.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${')}\``;

  return statement.parameters ? `${text}, ${JSON.stringify(statement.parameters)}` : text;
}
