import { EventPattern, MessagePattern } from '@nestjs/microservices';

import type { EventContract, RequestContract, ServiceName } from '@turnaround/contracts';

import { SERVICE_TRANSPORTS } from './messaging.module.js';

/**
 * Marks a method as `service`'s handler for an event. The method receives the validated
 * `Envelope` of the contract; a message that fails validation never reaches it (dead-lettered).
 */
export function OnEvent(contract: EventContract<unknown>, service: ServiceName): MethodDecorator {
  return EventPattern(contract.routingKey, SERVICE_TRANSPORTS[service]) as MethodDecorator;
}

/** Marks a method as the one answer to a request contract; its return value is the reply. */
export function OnRequest(contract: RequestContract<unknown, unknown>): MethodDecorator {
  return MessagePattern(contract.routingKey, SERVICE_TRANSPORTS[contract.owner]) as MethodDecorator;
}
