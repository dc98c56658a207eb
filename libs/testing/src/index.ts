export * from './ports.js';
export * from './scratch-databases.js';
export * from './on-each-database.js';
export * from './query-plans.js';
export * from './retention-clock.js';
export * from './messaging-schema.js';
