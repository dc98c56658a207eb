export * from './ports.js';
export * from './scratch-databases.js';
export * from './query-plans.js';
