import { DeviceCheckedOut, EnqueueCommands, Envelope } from '@turnaround/contracts';

import { BusClient } from './bus.client.js';
import { InProcessTransport } from './in-process.transport.js';
import { MessageBus } from './message-bus.js';

describe('MessageBus.publish', () => {
  it('publishes the events of its own service, including those named in another context', async () => {
    const transport = new InProcessTransport();
    const seen: Envelope[] = [];
    await transport.subscribe('observer', ['#'], async (envelope) => {
      seen.push(envelope);
    });
    const provisioning = new MessageBus('provisioning', new BusClient(transport));

    await provisioning.publish(
      EnqueueCommands,
      { udid: 'U', enrollmentId: 'E', placement: 'back', commands: [] },
      { subject: 'U' },
    );
    await transport.idle();

    expect(seen.map((envelope) => [envelope.type, envelope.source])).toEqual([
      ['commands.queue.enqueue-requested.v1', 'provisioning'],
    ]);
  });

  it('refuses an event another service publishes, before anything is sent', async () => {
    const transport = new InProcessTransport();
    const seen: Envelope[] = [];
    await transport.subscribe('observer', ['#'], async (envelope) => {
      seen.push(envelope);
    });
    const commands = new MessageBus('commands', new BusClient(transport));

    await expect(
      commands.publish(DeviceCheckedOut, { udid: 'U', enrollmentId: 'E' }, { subject: 'U' }),
    ).rejects.toThrow('DeviceCheckedOut is published by checkin, not commands');
    await transport.idle();
    expect(seen).toEqual([]);
  });
});
