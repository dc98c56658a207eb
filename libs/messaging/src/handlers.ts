import { applyDecorators, Catch, RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';

import type { EventContract, RequestContract, ServiceName } from '@turnaround/contracts';

import { SERVICE_TRANSPORTS } from './messaging.module.js';
import { describeError } from './transport.js';

/**
 * Nest replaces any error a message handler throws with "Internal server error"; this filter
 * keeps the error's stable code and message, for the requester or the dead letter's reason.
 */
@Catch()
export class RequestErrorFilter implements RpcExceptionFilter<unknown> {
  catch(error: unknown): Observable<never> {
    return throwError(() => describeError(error));
  }
}

/**
 * Marks a method as `service`'s handler for an event. The method receives the validated
 * `Envelope` of the contract; a message that fails validation never reaches it (dead-lettered).
 */
export function OnEvent(contract: EventContract<unknown>, service: ServiceName): MethodDecorator {
  return applyDecorators(
    EventPattern(contract.routingKey, SERVICE_TRANSPORTS[service]) as MethodDecorator,
    UseFilters(new RequestErrorFilter()),
  );
}

/** Marks a method as the one answer to a request contract; its return value is the reply. */
export function OnRequest(contract: RequestContract<unknown, unknown>): MethodDecorator {
  return applyDecorators(
    MessagePattern(contract.routingKey, SERVICE_TRANSPORTS[contract.owner]) as MethodDecorator,
    UseFilters(new RequestErrorFilter()),
  );
}
