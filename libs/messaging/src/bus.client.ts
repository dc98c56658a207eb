import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';

import { Envelope } from '@turnaround/contracts';

import { MessageTransport } from './transport.js';

export interface BusPacketData {
  envelope: Envelope;
  timeoutMs?: number;
}

/** The sending half: `emit` publishes an event, `send` makes a request with a timeout. */
export class BusClient extends ClientProxy {
  constructor(private readonly transport: MessageTransport) {
    super();
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {}

  unwrap<T>(): T {
    return this.transport as T;
  }

  protected publish(packet: ReadPacket<BusPacketData>, callback: (packet: WritePacket) => void): () => void {
    const { envelope, timeoutMs = 2_000 } = packet.data;
    this.transport.request(envelope, timeoutMs).then(
      (response) => callback({ response, isDisposed: true }),
      (err: unknown) => callback({ err, isDisposed: true }),
    );

    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket<BusPacketData>): Promise<T> {
    await this.transport.publish(packet.data.envelope);

    return undefined as T;
  }
}
