import { createEnvelope, DeviceCheckedOut, Envelope, ResolveIdentity } from '@turnaround/contracts';

import { InProcessTransport } from './in-process.transport.js';
import { NoResponderError, RemoteRequestError, RequestTimeoutError } from './transport.js';

const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

function checkedOut(udid: string, enrollmentId: string): Envelope {
  return createEnvelope(DeviceCheckedOut, 'checkin', { udid, enrollmentId }, { subject: udid });
}

describe('InProcessTransport', () => {
  it('delivers on a later tick, never inside publish', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    const seen: string[] = [];
    await transport.subscribe('provisioning', [DeviceCheckedOut.routingKey], async (envelope) => {
      seen.push(envelope.id);
    });
    const envelope = checkedOut('U1', 'E1');
    await transport.publish(envelope);

    expect(seen).toEqual([]);
    await transport.idle();
    expect(seen).toEqual([envelope.id]);
  });

  it('gives every consumer group its own copy', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    const groups: string[] = [];
    for (const group of ['commands', 'provisioning']) {
      await transport.subscribe(group, ['checkin.#'], async (envelope) => {
        (envelope.data as { udid: string }).udid = 'changed';
        groups.push(group);
      });
    }
    await transport.publish(checkedOut('U1', 'E1'));
    await transport.idle();

    expect(groups.sort()).toEqual(['commands', 'provisioning']);
  });

  it('keeps the order of one device even when a delivery is retried', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    const order: string[] = [];
    let failedOnce = false;
    await transport.subscribe('provisioning', [DeviceCheckedOut.routingKey], async (envelope) => {
      const { enrollmentId } = envelope.data as { enrollmentId: string };
      if (enrollmentId === 'E1' && !failedOnce) {
        failedOnce = true;
        throw new Error('database busy');
      }
      order.push(enrollmentId);
    });
    await transport.publish(checkedOut('U1', 'E1'));
    await transport.publish(checkedOut('U1', 'E2'));
    await transport.idle();

    expect(order).toEqual(['E1', 'E2']);
  });

  it('keeps one device\'s order across the event types a group consumes', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    const order: string[] = [];
    await transport.subscribe('provisioning', [DeviceCheckedOut.routingKey], async () => {
      await new Promise((done) => setTimeout(done, 20));
      order.push('checked-out');
    });
    await transport.subscribe('provisioning', [ResolveIdentity.routingKey], async () => {
      order.push('second type');
    });
    await transport.publish(checkedOut('U1', 'E1'));
    await transport.publish({ ...checkedOut('U1', 'E2'), type: ResolveIdentity.routingKey });
    await transport.idle();

    expect(order).toEqual(['checked-out', 'second type']);
  });

  it('dead-letters a message that keeps failing, with the reason, and goes on', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    let attempts = 0;
    await transport.subscribe('provisioning', [DeviceCheckedOut.routingKey], async () => {
      attempts += 1;
      throw new Error('always broken');
    });
    await transport.publish(checkedOut('U1', 'E1'));
    await transport.idle();

    expect(attempts).toBe(3);
    expect(transport.deadLetters()).toEqual([expect.objectContaining({ group: 'provisioning', reason: 'INTERNAL: always broken' })]);
  });

  it('answers a request from its one responder and fails clearly without one', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    const request = createEnvelope(ResolveIdentity, 'commands', { certificateFingerprint: 'ab' }, { subject: 'ab' });

    await expect(transport.request(request, 100)).rejects.toBeInstanceOf(NoResponderError);
    await transport.serve('checkin', [ResolveIdentity.routingKey], async () => ({ found: false }));
    await expect(transport.request(request, 100)).resolves.toEqual({ found: false });
  });

  it('times out a request whose responder does not answer in time', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    await transport.serve('checkin', [ResolveIdentity.routingKey], () => new Promise((done) => setTimeout(done, 200)));
    const request = createEnvelope(ResolveIdentity, 'commands', { certificateFingerprint: 'ab' }, { subject: 'ab' });

    await expect(transport.request(request, 20)).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('carries a responder error back with its code', async () => {
    const transport = new InProcessTransport(FAST_RETRY);
    await transport.serve('checkin', [ResolveIdentity.routingKey], async () => {
      throw Object.assign(new Error('no such table'), { code: 'STORE.BROKEN' });
    });
    const request = createEnvelope(ResolveIdentity, 'commands', { certificateFingerprint: 'ab' }, { subject: 'ab' });

    await expect(transport.request(request, 100)).rejects.toEqual(new RemoteRequestError('STORE.BROKEN', 'no such table'));
  });
});
