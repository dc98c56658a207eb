import { CheckinModule } from '@turnaround/checkin';
import { runService } from '@turnaround/runtime';

// The checkin service in a process of its own, on RabbitMQ (AMQP_URL is required).
runService('checkin', 8081, CheckinModule);
