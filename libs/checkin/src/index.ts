export * from './checkin.module.js';
export * from './domain/enrollment-rules.js';
