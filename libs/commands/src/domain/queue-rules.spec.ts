import {
  chooseNext,
  CommandState,
  isEligible,
  isPending,
  newCommands,
  nextEligible,
  prioritizedSequence,
  QueueEntry,
  refusalReason,
  sequencesFor,
  supersededByEnrollment,
} from './queue-rules.js';

let counter = 0;

function entry(overrides: Partial<QueueEntry> = {}): QueueEntry {
  counter += 1;

  return {
    commandUuid: `C${counter}`,
    requestType: 'InstallProfile',
    sequence: counter,
    state: 'queued',
    deliveries: 0,
    notNowSessionId: null,
    ...overrides,
  };
}

describe('queue rules', () => {
  describe('pending', () => {
    it.each<[CommandState, boolean]>([
      ['queued', true],
      ['delivered', true],
      ['not-now', true],
      ['acknowledged', false],
      ['error', false],
      ['format-error', false],
      ['superseded', false],
      ['refused', false],
    ])('counts a %s command as pending: %s', (state, pending) => {
      expect(isPending({ state })).toBe(pending);
    });
  });

  describe('next eligible command', () => {
    it('hands out commands in sequence order, not in the order they are listed', () => {
      const second = entry({ commandUuid: 'B', sequence: 2 });
      const first = entry({ commandUuid: 'A', sequence: 1 });

      expect(nextEligible([second, first], 'S1')?.commandUuid).toBe('A');
    });

    it('keeps a delivered command without a result at the head of the queue', () => {
      const delivered = entry({ commandUuid: 'A', sequence: 1, state: 'delivered', deliveries: 1 });
      const queued = entry({ commandUuid: 'B', sequence: 2 });

      expect(nextEligible([delivered, queued], 'S1')?.commandUuid).toBe('A');
    });

    it('skips finished and superseded commands', () => {
      const done = entry({ commandUuid: 'A', sequence: 1, state: 'acknowledged' });
      const gone = entry({ commandUuid: 'B', sequence: 2, state: 'superseded' });
      const failed = entry({ commandUuid: 'C', sequence: 3, state: 'error' });
      const next = entry({ commandUuid: 'D', sequence: 4 });

      expect(nextEligible([done, gone, failed, next], 'S1')?.commandUuid).toBe('D');
    });

    it('lets the commands after a NotNow run in the same session (B13)', () => {
      const profile = entry({ commandUuid: 'P1', sequence: 1, state: 'acknowledged' });
      const ddm = entry({
        commandUuid: 'D1',
        requestType: 'DeclarativeManagement',
        sequence: 2,
        state: 'not-now',
        deliveries: 1,
        notNowSessionId: 'S1',
      });
      const configured = entry({ commandUuid: 'C1', requestType: 'DeviceConfigured', sequence: 3 });

      expect(nextEligible([profile, ddm, configured], 'S1')?.commandUuid).toBe('C1');
    });

    it('offers nothing once every pending command got NotNow in this session (B15)', () => {
      const one = entry({ state: 'not-now', deliveries: 1, notNowSessionId: 'S1' });
      const two = entry({ state: 'not-now', deliveries: 1, notNowSessionId: 'S1' });

      expect(nextEligible([one, two], 'S1')).toBeUndefined();
    });

    it('offers NotNow-ed commands again in a later session, in queue order (B15)', () => {
      const one = entry({ commandUuid: 'A', sequence: 1, state: 'not-now', notNowSessionId: 'S1' });
      const two = entry({ commandUuid: 'B', sequence: 2, state: 'not-now', notNowSessionId: 'S1' });

      expect(nextEligible([two, one], 'S2')?.commandUuid).toBe('A');
    });

    it('never hands out an EraseDevice a second time (B05)', () => {
      const erase = entry({ requestType: 'EraseDevice', state: 'delivered', deliveries: 1 });

      expect(isEligible(erase, 'S1')).toBe(false);
      expect(isEligible(erase, 'S2')).toBe(false);
    });

    it('offers an EraseDevice the device answered NotNow again in a later session, not the same one', () => {
      const refused = entry({
        requestType: 'EraseDevice',
        state: 'not-now',
        deliveries: 1,
        notNowSessionId: 'S1',
      });

      expect(isEligible(refused, 'S1')).toBe(false);
      expect(isEligible(refused, 'S2')).toBe(true);
    });

    it('hands out an EraseDevice that never went out', () => {
      expect(isEligible(entry({ requestType: 'EraseDevice' }), 'S1')).toBe(true);
    });

    it('hands out other commands again while they wait for a result', () => {
      expect(isEligible(entry({ state: 'delivered', deliveries: 3 }), 'S1')).toBe(true);
    });

    it('answers an empty queue with nothing', () => {
      expect(nextEligible([], 'S1')).toBeUndefined();
    });
  });

  describe('after DeviceConfigured was acknowledged', () => {
    const configuredAt = new Date('2026-03-02T10:15:30.250Z');
    const expected =
      'DeviceConfigured was already acknowledged for this enrollment at 2026-03-02T10:15:30.250Z';

    function scoped(overrides: Partial<QueueEntry> = {}, whileAwaitingConfiguration = false) {
      return { ...entry(overrides), whileAwaitingConfiguration };
    }

    it('refuses a second DeviceConfigured, saying when the first was acknowledged', () => {
      expect(refusalReason(scoped({ requestType: 'DeviceConfigured' }), configuredAt)).toBe(
        expected,
      );
    });

    it('refuses a command queued for while the device awaits configuration', () => {
      expect(refusalReason(scoped({ requestType: 'InstallApplication' }, true), configuredAt)).toBe(
        expected,
      );
    });

    it('lets every other command through', () => {
      expect(refusalReason(scoped({ requestType: 'InstallApplication' }), configuredAt)).toBeNull();
      expect(refusalReason(scoped({ requestType: 'EraseDevice' }), configuredAt)).toBeNull();
    });

    it('refuses nothing before DeviceConfigured was acknowledged', () => {
      expect(refusalReason(scoped({ requestType: 'DeviceConfigured' }), null)).toBeNull();
      expect(refusalReason(scoped({ requestType: 'Settings' }, true), null)).toBeNull();
    });

    it('sets aside the refused commands ahead of the next one and hands that one out', () => {
      const configured = scoped({ commandUuid: 'A', requestType: 'DeviceConfigured', sequence: 1 });
      const setup = scoped({ commandUuid: 'B', requestType: 'Settings', sequence: 2 }, true);
      const inventory = scoped({ commandUuid: 'C', requestType: 'DeviceInformation', sequence: 3 });
      const later = scoped({ commandUuid: 'D', requestType: 'DeviceConfigured', sequence: 4 });

      const choice = chooseNext([later, inventory, setup, configured], 'S1', configuredAt);

      expect(choice.next?.commandUuid).toBe('C');
      expect(choice.refused.map(({ entry: e, reason }) => [e.commandUuid, reason])).toEqual([
        ['A', expected],
        ['B', expected],
      ]);
    });

    it('leaves commands it cannot hand out now alone, refused or not', () => {
      const notNow = scoped({
        requestType: 'DeviceConfigured',
        state: 'not-now',
        notNowSessionId: 'S1',
        deliveries: 1,
      });
      const done = scoped({ requestType: 'DeviceConfigured', state: 'acknowledged' });

      expect(chooseNext([notNow, done], 'S1', configuredAt)).toEqual({
        next: undefined,
        refused: [],
      });
    });

    it('chooses as nextEligible does while nothing is refused', () => {
      const entries = [
        scoped({ commandUuid: 'A', sequence: 2 }),
        scoped({ commandUuid: 'B', sequence: 1, requestType: 'DeviceConfigured' }),
      ];

      expect(chooseNext(entries, 'S1', null)).toEqual({
        next: nextEligible(entries, 'S1'),
        refused: [],
      });
    });
  });

  describe('sequences', () => {
    it('numbers the first commands of an enrollment from 1', () => {
      expect(sequencesFor('back', null, 3)).toEqual([1, 2, 3]);
      expect(sequencesFor('front', null, 2)).toEqual([1, 2]);
    });

    it('puts back-placed commands after everything queued', () => {
      expect(sequencesFor('back', { min: 1, max: 4 }, 2)).toEqual([5, 6]);
    });

    it('puts front-placed commands before everything queued, keeping their own order', () => {
      const placed = sequencesFor('front', { min: 1, max: 4 }, 3);

      expect(placed).toEqual([-2, -1, 0]);
      expect(Math.max(...placed)).toBeLessThan(1);
    });
  });

  describe('prioritizing', () => {
    it('moves a pending command before every other command', () => {
      const entries = [
        entry({ commandUuid: 'A', sequence: 1 }),
        entry({ commandUuid: 'B', sequence: 2 }),
        entry({ commandUuid: 'C', sequence: 3 }),
      ];
      const sequence = prioritizedSequence(entries, 'C');

      expect(sequence).toBe(0);
      const moved = entries.map((e) => (e.commandUuid === 'C' ? { ...e, sequence: sequence! } : e));
      expect(nextEligible(moved, 'S1')?.commandUuid).toBe('C');
    });

    it('changes nothing for a command already at the head of the pending queue', () => {
      const entries = [
        entry({ commandUuid: 'A', sequence: 1, state: 'acknowledged' }),
        entry({ commandUuid: 'B', sequence: 2 }),
      ];

      expect(prioritizedSequence(entries, 'B')).toBeNull();
    });

    it('changes nothing for an unknown or finished command', () => {
      const entries = [entry({ commandUuid: 'A', state: 'error' }), entry({ commandUuid: 'B' })];

      expect(prioritizedSequence(entries, 'A')).toBeNull();
      expect(prioritizedSequence(entries, 'Z')).toBeNull();
    });
  });

  describe('enqueueing', () => {
    it('ignores a CommandUUID the enrollment already has (at-least-once delivery)', () => {
      const requested = [{ commandUuid: 'A' }, { commandUuid: 'B' }];

      expect(newCommands(requested, new Set(['A']))).toEqual([{ commandUuid: 'B' }]);
    });

    it('keeps only the first of two equal CommandUUIDs in one request', () => {
      const requested = [
        { commandUuid: 'A', n: 1 },
        { commandUuid: 'A', n: 2 },
      ];

      expect(newCommands(requested, new Set())).toEqual([{ commandUuid: 'A', n: 1 }]);
    });
  });

  describe('fresh enrollment', () => {
    it('closes every pending command of the other enrollments, grouped by enrollment (B05)', () => {
      const groups = supersededByEnrollment(
        [
          { enrollmentId: 'E1', commandUuid: 'erase', state: 'delivered' },
          { enrollmentId: 'E1', commandUuid: 'later', state: 'not-now' },
          { enrollmentId: 'E1', commandUuid: 'done', state: 'acknowledged' },
          { enrollmentId: 'E0', commandUuid: 'old', state: 'queued' },
          { enrollmentId: 'E2', commandUuid: 'new', state: 'queued' },
        ],
        'E2',
      );

      expect(Object.fromEntries(groups)).toEqual({ E1: ['erase', 'later'], E0: ['old'] });
    });

    it('closes nothing when the other enrollments have no pending command', () => {
      const groups = supersededByEnrollment(
        [{ enrollmentId: 'E1', commandUuid: 'done', state: 'error' }],
        'E2',
      );

      expect(groups.size).toBe(0);
    });
  });
});
