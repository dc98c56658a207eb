export * from './escrow.module.js';
export * from './feature/escrow-status.service.js';
export * from './domain/escrow.errors.js';
