export * from './escrow.module.js';
export * from './feature/escrow-status.service.js';
export * from './domain/escrow.errors.js';
export { ESCROW_SCHEMA } from './data-access/migrations/escrow.schema.js';
