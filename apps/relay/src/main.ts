import { runRelay } from '@turnaround/runtime';

// The outbox relay in a process of its own (PostgreSQL and RabbitMQ required): it publishes what
// the four services staged, so they can run with TURNAROUND_OUTBOX_RELAY=external.
runRelay(8085);
