export * from './transport-factory.js';
export * from './bootstrap.js';
export * from './nest-logger.js';
export * from './relay.js';
