import { EscrowModule } from '@turnaround/escrow';
import { runService } from '@turnaround/runtime';

// The escrow service in a process of its own, on RabbitMQ (AMQP_URL is required).
runService('escrow', 8083, EscrowModule);
