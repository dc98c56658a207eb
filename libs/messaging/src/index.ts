export * from './transport.js';
export * from './delivery.js';
export * from './in-process.transport.js';
export * from './amqp.transport.js';
export * from './bus.server.js';
export * from './bus.client.js';
export * from './message-bus.js';
export * from './messaging.module.js';
