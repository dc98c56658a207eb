import { AmqpTransport, InProcessTransport, MessageTransport } from '@turnaround/messaging';
import { TurnaroundConfig } from '@turnaround/platform';

/** RabbitMQ when configured; otherwise the in-process bus, which only an all-in-one process may use. */
export function createTransport(config: TurnaroundConfig, allInOne: boolean): MessageTransport {
  if (config.amqpUrl) {
    return new AmqpTransport({ url: config.amqpUrl, namespace: config.busNamespace });
  }
  if (!allInOne) {
    throw new Error('AMQP_URL is required when a service runs in its own process');
  }

  return new InProcessTransport();
}
