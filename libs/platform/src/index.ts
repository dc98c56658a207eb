export * from './logger.js';
export * from './config.js';
export * from './persistence.js';
export * from './http.js';
export * from './device-http.js';
