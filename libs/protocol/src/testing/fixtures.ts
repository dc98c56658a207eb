import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Folder of the shared real-payload fixtures; jest runs with the repository root as cwd. */
export const FIXTURES_ROOT = path.resolve(process.cwd(), '../shared/fixtures/real');

export type FixtureKind = 'checkin' | 'report' | 'command' | 'profile' | 'ade' | 'ddm';

export function readFixture(kind: FixtureKind, name: string): Buffer {
  return readFileSync(path.join(FIXTURES_ROOT, kind, name));
}

export function listFixtures(kind: FixtureKind): string[] {
  return readdirSync(path.join(FIXTURES_ROOT, kind)).sort();
}
