export * from './logger.js';
export * from './config.js';
export * from './persistence.js';
export * from './data-gate.js';
export * from './serial-lanes.js';
export * from './http.js';
export * from './device-http.js';
