export * from './provisioning.module.js';
export * from './domain/rts-cycle.js';
export * from './domain/mdm-profile-rule.js';
export * from './domain/plan.js';
export * from './domain/provisioning.errors.js';
export { PROVISIONING_SCHEMA } from './data-access/migrations/provisioning.schema.js';
