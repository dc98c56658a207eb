export * from './checkin.module.js';
export * from './domain/enrollment-rules.js';
export { CHECKIN_SCHEMA } from './data-access/migrations/checkin.schema.js';
