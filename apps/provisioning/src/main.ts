import { ProvisioningModule } from '@turnaround/provisioning';
import { runService } from '@turnaround/runtime';

// The provisioning service in a process of its own, on RabbitMQ (AMQP_URL is required).
runService('provisioning', 8084, ProvisioningModule);
