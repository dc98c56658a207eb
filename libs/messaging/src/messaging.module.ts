import { DynamicModule, Module } from '@nestjs/common';

import { ServiceName } from '@turnaround/contracts';

import { BusClient } from './bus.client.js';
import { MessageBus } from './message-bus.js';
import { MessageTransport } from './transport.js';

export const MESSAGE_TRANSPORT = Symbol('MESSAGE_TRANSPORT');

/** The transport id each service's handlers are registered under. */
export const SERVICE_TRANSPORTS: Record<ServiceName, symbol> = {
  checkin: Symbol('checkin'),
  commands: Symbol('commands'),
  escrow: Symbol('escrow'),
  provisioning: Symbol('provisioning'),
};

/** Gives one service its MessageBus over the transport the process chose. */
@Module({})
export class MessagingModule {
  static forService(service: ServiceName, transport: MessageTransport): DynamicModule {
    return {
      module: MessagingModule,
      providers: [
        { provide: MESSAGE_TRANSPORT, useValue: transport },
        { provide: MessageBus, useFactory: () => new MessageBus(service, new BusClient(transport)) },
      ],
      exports: [MessageBus, MESSAGE_TRANSPORT],
    };
  }
}
