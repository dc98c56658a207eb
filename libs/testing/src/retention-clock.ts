/** The fixed "now" the retention specs purge at, so ages never depend on the day they run. */
export const RETENTION_NOW = new Date('2026-06-01T12:00:00.000Z');

const DAY_MS = 24 * 60 * 60 * 1000;

/** A moment `days` days before {@link RETENTION_NOW}. */
export function daysAgo(days: number): Date {
  return new Date(RETENTION_NOW.getTime() - days * DAY_MS);
}
