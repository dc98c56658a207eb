import { randomUUID } from 'node:crypto';

import {
  CommandDelivered,
  CommandFailed,
  createEnvelope,
  DeviceCheckedOut,
} from '@turnaround/contracts';
import { encodePlistXml } from '@turnaround/protocol';

import { commandIn, CommandsTestApp, enqueueEnvelope } from '../testing/commands-test-app.js';

const harness = new CommandsTestApp();

beforeAll(async () => {
  await harness.start();
});

afterAll(async () => {
  await harness.stop();
});

function udid(): string {
  return randomUUID().toUpperCase();
}

async function deliveredFor(
  device: Parameters<CommandsTestApp['report']>[0],
  count: number,
): Promise<string[]> {
  const delivered: string[] = [];
  let answer = await harness.report(device, 'Idle');
  while (delivered.length < count && answer.body.length > 0) {
    const command = commandIn(answer)!;
    delivered.push(command.commandUuid);
    answer = await harness.report(device, 'Acknowledged', command.commandUuid);
  }

  return delivered;
}

describe('queue events', () => {
  describe('B05: a fresh enrollment ends the commands of the earlier one', () => {
    it('never delivers an unacknowledged EraseDevice again after re-enrollment', async () => {
      const id = udid();
      const before = await harness.device(id);
      await harness.enroll(before, 'B05-E1');
      const [erase, profile] = await harness.enqueue(id, 'B05-E1', [
        { requestType: 'EraseDevice', keys: { ReturnToService: { Enabled: true } } },
        { requestType: 'InstallProfile' },
      ]);
      expect(commandIn(await harness.report(before, 'Idle'))?.commandUuid).toBe(erase);
      // No result for the erase ever arrives: the device erased itself and enrolled again.
      const after = await harness.device(id);
      const from = harness.events.length;

      await harness.enroll(after, 'B05-E2', { fresh: true, previousEnrollmentId: 'B05-E1' });
      const idle = await harness.report(after, 'Idle');

      expect(idle.status).toBe(200);
      expect(idle.body.length).toBe(0);
      expect(harness.superseded(from).map((event) => event.data)).toEqual([
        { udid: id, enrollmentId: 'B05-E1', commandUuids: [erase, profile] },
      ]);
      const old = await harness.repository.listCommands('B05-E1');
      expect(old.map((command) => command.state)).toEqual(['superseded', 'superseded']);
      // Even the old identity gets nothing from the old enrollment any more.
      expect((await harness.report(before, 'Idle')).body.length).toBe(0);
    });

    it('keeps the queue on a renewal (control case): P1 is still delivered', async () => {
      const id = udid();
      const before = await harness.device(id);
      await harness.enroll(before, 'B05C-E1');
      const [p1] = await harness.enqueue(id, 'B05C-E1', [{ requestType: 'InstallProfile' }]);
      const renewed = await harness.device(id);
      const from = harness.events.length;

      await harness.enroll(renewed, 'B05C-E1', { fresh: false });
      const idle = await harness.report(renewed, 'Idle');

      expect(commandIn(idle)?.commandUuid).toBe(p1);
      expect(harness.superseded(from)).toEqual([]);
    });

    it('hands out an EraseDevice only once within an enrollment', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'B05-ONCE');
      const [erase] = await harness.enqueue(id, 'B05-ONCE', [{ requestType: 'EraseDevice' }]);

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(erase);
      expect((await harness.report(device, 'Idle')).body.length).toBe(0);
    });

    it('supersedes nothing twice when DeviceEnrolled is delivered again', async () => {
      const id = udid();
      const before = await harness.device(id);
      await harness.enroll(before, 'B05-R1');
      await harness.enqueue(id, 'B05-R1', [{ requestType: 'InstallProfile' }]);
      const after = await harness.device(id);
      const from = harness.events.length;

      const enrolled = await harness.enroll(after, 'B05-R2', { previousEnrollmentId: 'B05-R1' });
      await harness.deliver(enrolled);

      expect(harness.superseded(from)).toHaveLength(1);
    });

    it('ignores a late copy of an older fresh enrollment', async () => {
      const id = udid();
      const first = await harness.device(id);
      const firstEvent = await harness.enroll(first, 'B05-L1');
      const second = await harness.device(id);
      await harness.enroll(second, 'B05-L2', { previousEnrollmentId: 'B05-L1' });
      const [current] = await harness.enqueue(id, 'B05-L2', [{ requestType: 'DeviceConfigured' }]);

      await harness.deliver(firstEvent);

      expect(commandIn(await harness.report(second, 'Idle'))?.commandUuid).toBe(current);
    });

    it('closes commands queued for an enrollment that was already replaced', async () => {
      const id = udid();
      await harness.enroll(await harness.device(id), 'B05-Q1');
      const fresh = await harness.device(id);
      await harness.enroll(fresh, 'B05-Q2', { previousEnrollmentId: 'B05-Q1' });
      const from = harness.events.length;

      const [late] = await harness.enqueue(id, 'B05-Q1', [{ requestType: 'EraseDevice' }]);

      expect(harness.superseded(from).map((event) => event.data)).toEqual([
        { udid: id, enrollmentId: 'B05-Q1', commandUuids: [late] },
      ]);
      expect((await harness.report(fresh, 'Idle')).body.length).toBe(0);
    });

    it('closes commands queued late for a previous enrollment this service never saw', async () => {
      const id = udid();
      const fresh = await harness.device(id);
      await harness.enroll(fresh, 'B05-U2', { previousEnrollmentId: 'B05-U1' });
      const from = harness.events.length;

      const [late] = await harness.enqueue(id, 'B05-U1', [{ requestType: 'EraseDevice' }]);

      expect(harness.superseded(from).map((event) => event.data.commandUuids)).toEqual([[late]]);
    });
  });

  describe('CheckOut', () => {
    it('closes what was queued for the enrollment and what is queued for it later', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'OUT-1');
      const [queued] = await harness.enqueue(id, 'OUT-1', [{ requestType: 'ProfileList' }]);
      const from = harness.events.length;
      await harness.deliver(
        createEnvelope(
          DeviceCheckedOut,
          'checkin',
          { udid: id, enrollmentId: 'OUT-1' },
          { subject: id },
        ),
      );
      const [late] = await harness.enqueue(id, 'OUT-1', [{ requestType: 'SecurityInfo' }]);

      expect(harness.superseded(from).map((event) => event.data)).toEqual([
        { udid: id, enrollmentId: 'OUT-1', commandUuids: [queued] },
        { udid: id, enrollmentId: 'OUT-1', commandUuids: [late] },
      ]);
      expect((await harness.report(device, 'Idle')).body.length).toBe(0);
    });
  });

  describe('EnqueueCommands', () => {
    it('ignores a CommandUUID the enrollment already has (redelivery)', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'ENQ-1');
      const commands = [
        {
          commandUuid: 'ENQ-CMD-1',
          requestType: 'ProfileList',
          command: encodePlistXml({ RequestType: 'ProfileList' }).toString('base64'),
        },
      ];
      const envelope = enqueueEnvelope(id, 'ENQ-1', commands);

      await harness.deliver(envelope);
      await harness.deliver(envelope);
      await harness.deliver(enqueueEnvelope(id, 'ENQ-1', commands));

      expect(await harness.repository.listCommands('ENQ-1')).toHaveLength(1);
      expect(await deliveredFor(device, 5)).toEqual(['ENQ-CMD-1']);
    });

    it('delivers the command body exactly as it was queued', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'ENQ-BODY');
      const payload = Buffer.from('<profile bytes>');
      await harness.enqueue(id, 'ENQ-BODY', [
        { commandUuid: 'ENQ-BODY-1', requestType: 'InstallProfile', keys: { Payload: payload } },
      ]);

      const answer = await harness.report(device, 'Idle');

      expect(answer.body.toString('utf8')).toContain(`<data>${payload.toString('base64')}</data>`);
    });

    function badBody(id: string) {
      return enqueueEnvelope(id, `ENQ-BAD-${id}`, [
        {
          commandUuid: 'BAD-1',
          requestType: 'ProfileList',
          command: Buffer.from('nope').toString('base64'),
        },
      ]);
    }

    it('stores nothing from a command body that is not a Command dictionary', async () => {
      const envelope = badBody(udid());

      await harness.deliver(envelope);

      expect(await harness.repository.listCommands(`ENQ-BAD-${envelope.subject}`)).toEqual([]);
    });

    // BusServer (libs/messaging) does not hand a handler's error back to the transport: Nest turns
    // it into an observable that nobody subscribes to. This starts passing once that is fixed.
    it('dead-letters a command body that is not a Command dictionary', async () => {
      const envelope = badBody(udid());

      await harness.deliver(envelope);

      expect(harness.transport.deadLetters().map((letter) => letter.envelope.id)).toContain(
        envelope.id,
      );
    });

    it('puts front-placed commands before everything queued, in their own order', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'ENQ-FRONT');
      const back = await harness.enqueue(id, 'ENQ-FRONT', [
        { requestType: 'ProfileList' },
        { requestType: 'SecurityInfo' },
      ]);
      const front = await harness.enqueue(
        id,
        'ENQ-FRONT',
        [{ requestType: 'DeviceConfigured' }, { requestType: 'DeviceLock' }],
        'front',
      );

      expect(await deliveredFor(device, 4)).toEqual([...front, ...back]);
    });

    it('never delivers a command to another enrollment of the same device', async () => {
      const id = udid();
      const first = await harness.device(id);
      await harness.enroll(first, 'ENQ-OWN-1');
      const second = await harness.device(id);
      // A renewal-like second enrollment without supersession, to show the key is the enrollment.
      await harness.enroll(second, 'ENQ-OWN-2', { fresh: false });
      await harness.enqueue(id, 'ENQ-OWN-1', [{ requestType: 'ProfileList' }]);

      expect((await harness.report(second, 'Idle')).body.length).toBe(0);
    });
  });

  describe('DeviceConfigured is sent at most once per enrollment', () => {
    const refusal = /^DeviceConfigured was already acknowledged for this enrollment at (\S+)$/;

    async function configured(enrollmentId: string) {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, enrollmentId);
      const [configuredUuid] = await harness.enqueue(id, enrollmentId, [
        { requestType: 'DeviceConfigured' },
      ]);
      const before = Date.now();
      expect(await deliveredFor(device, 1)).toEqual([configuredUuid]);

      return { id, device, before };
    }

    async function stateOf(enrollmentId: string, commandUuid: string) {
      const commands = await harness.repository.listCommands(enrollmentId);

      return commands.find((command) => command.commandUuid === commandUuid)?.state;
    }

    it('refuses a DeviceConfigured enqueued after the first was acknowledged, saying when', async () => {
      const { id, device, before } = await configured('DC-ENQ');
      const from = harness.events.length;

      const [again] = await harness.enqueue(id, 'DC-ENQ', [{ requestType: 'DeviceConfigured' }]);

      const failed = harness.eventsOf(CommandFailed, from).map((event) => event.data);
      expect(failed).toEqual([
        {
          udid: id,
          enrollmentId: 'DC-ENQ',
          commandUuid: again,
          requestType: 'DeviceConfigured',
          status: 'Refused',
          errors: [{ description: expect.stringMatching(refusal) }],
        },
      ]);
      const at = Date.parse(
        refusal.exec(String((failed[0]!.errors as { description: string }[])[0]!.description))![1]!,
      );
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
      expect(await stateOf('DC-ENQ', again!)).toBe('refused');
      expect((await harness.report(device, 'Idle')).body.length).toBe(0);
    });

    it('refuses a setup step enqueued for while the device awaits configuration, and nothing else', async () => {
      const { id, device } = await configured('DC-SETUP');
      const from = harness.events.length;

      const [setup, inventory] = await harness.enqueue(id, 'DC-SETUP', [
        { requestType: 'Settings', whileAwaitingConfiguration: true },
        { requestType: 'DeviceInformation', whileAwaitingConfiguration: false },
      ]);

      expect(harness.eventsOf(CommandFailed, from).map((event) => event.data.commandUuid)).toEqual([
        setup,
      ]);
      expect(await deliveredFor(device, 5)).toEqual([inventory]);
    });

    it('announces a refusal once when the same EnqueueCommands is delivered again', async () => {
      const { id } = await configured('DC-REDELIVERED');
      const commands = [
        {
          commandUuid: 'DC-AGAIN-1',
          requestType: 'DeviceConfigured',
          command: encodePlistXml({ RequestType: 'DeviceConfigured' }).toString('base64'),
        },
      ];
      const envelope = enqueueEnvelope(id, 'DC-REDELIVERED', commands);
      const from = harness.events.length;

      await harness.deliver(envelope);
      await harness.deliver(envelope);

      expect(harness.eventsOf(CommandFailed, from)).toHaveLength(1);
    });

    it('refuses commands queued earlier when their turn comes after DeviceConfigured', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'DC-EARLIER');
      const [setupBefore, first, setupAfter, second, inventory] = await harness.enqueue(
        id,
        'DC-EARLIER',
        [
          { requestType: 'Settings', whileAwaitingConfiguration: true },
          { requestType: 'DeviceConfigured' },
          { requestType: 'InstallApplication', whileAwaitingConfiguration: true },
          { requestType: 'DeviceConfigured' },
          { requestType: 'DeviceInformation' },
        ],
      );
      const from = harness.events.length;

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(setupBefore);
      expect(
        commandIn(await harness.report(device, 'Acknowledged', setupBefore))?.commandUuid,
      ).toBe(first);
      const afterConfigured = await harness.report(device, 'Acknowledged', first);

      expect(commandIn(afterConfigured)?.commandUuid).toBe(inventory);
      const refused = harness.eventsOf(CommandFailed, from).map((event) => event.data);
      expect(refused.map((data) => [data.commandUuid, data.status])).toEqual([
        [setupAfter, 'Refused'],
        [second, 'Refused'],
      ]);
      expect(
        refused.every((data) =>
          refusal.test(String((data.errors as { description: string }[])[0]?.description)),
        ),
      ).toBe(true);
      const deliveredConfigured = harness
        .eventsOf(CommandDelivered, from)
        .filter((event) => event.data.requestType === 'DeviceConfigured');
      expect(deliveredConfigured.map((event) => event.data.commandUuid)).toEqual([first]);
      expect(await stateOf('DC-EARLIER', second!)).toBe('refused');
      expect(await stateOf('DC-EARLIER', setupAfter!)).toBe('refused');
      expect(await stateOf('DC-EARLIER', setupBefore!)).toBe('acknowledged');
    });

    it('still sends DeviceConfigured again when the first one failed', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'DC-FAILED');
      const [first, second] = await harness.enqueue(id, 'DC-FAILED', [
        { requestType: 'DeviceConfigured' },
        { requestType: 'DeviceConfigured' },
      ]);

      expect(commandIn(await harness.report(device, 'Idle'))?.commandUuid).toBe(first);
      expect(commandIn(await harness.report(device, 'Error', first))?.commandUuid).toBe(second);
    });

    it('keeps the rule to its enrollment: a fresh enrollment gets its own DeviceConfigured', async () => {
      const { id } = await configured('DC-OLD');
      const fresh = await harness.device(id);
      await harness.enroll(fresh, 'DC-NEW', { previousEnrollmentId: 'DC-OLD' });

      const [configuredAgain] = await harness.enqueue(id, 'DC-NEW', [
        { requestType: 'DeviceConfigured' },
      ]);

      expect(await deliveredFor(fresh, 1)).toEqual([configuredAgain]);
    });
  });

  describe('PrioritizeCommand', () => {
    it('moves a queued command to the head of the queue', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'PRIO-1');
      const [a, b, c] = await harness.enqueue(id, 'PRIO-1', [
        { requestType: 'InstallProfile' },
        { requestType: 'InstallApplication' },
        { requestType: 'DeviceConfigured' },
      ]);

      await harness.prioritize(id, 'PRIO-1', c!);
      await harness.prioritize(id, 'PRIO-1', c!);

      expect(await deliveredFor(device, 3)).toEqual([c, a, b]);
    });

    it('ignores an unknown command', async () => {
      const id = udid();
      const device = await harness.device(id);
      await harness.enroll(device, 'PRIO-2');
      const [a] = await harness.enqueue(id, 'PRIO-2', [{ requestType: 'InstallProfile' }]);

      await harness.prioritize(id, 'PRIO-2', 'NOT-THERE');

      expect(await deliveredFor(device, 1)).toEqual([a]);
      expect(
        harness.transport.deadLetters().filter((letter) => letter.envelope.subject === id),
      ).toEqual([]);
    });
  });

  it('publishes CommandDelivered every time a command is handed out', async () => {
    const id = udid();
    const device = await harness.device(id);
    await harness.enroll(device, 'DELIVERED-1');
    const [uuid] = await harness.enqueue(id, 'DELIVERED-1', [{ requestType: 'ProfileList' }]);
    const from = harness.events.length;

    await harness.report(device, 'Idle');
    await harness.report(device, 'Idle');

    expect(harness.eventsOf(CommandDelivered, from).map((event) => event.data.commandUuid)).toEqual(
      [uuid, uuid],
    );
  });
});
