import { CommandsModule } from '@turnaround/commands';
import { runService } from '@turnaround/runtime';

// The commands service in a process of its own, on RabbitMQ (AMQP_URL is required).
runService('commands', 8082, CommandsModule);
