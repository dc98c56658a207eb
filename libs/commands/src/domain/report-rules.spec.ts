import { decideReport, ReportedCommand, ReportFacts, sessionForReport } from './report-rules.js';

function report(overrides: Partial<ReportFacts> = {}): ReportFacts {
  return { status: 'Acknowledged', commandUuid: 'C1', enrollmentId: 'E1', ...overrides };
}

function command(overrides: Partial<ReportedCommand> = {}): ReportedCommand {
  return { enrollmentId: 'E1', state: 'delivered', notNowSessionId: null, ...overrides };
}

describe('report rules', () => {
  describe('results that finish a command', () => {
    it.each([
      ['Acknowledged', 'acknowledged'],
      ['Error', 'error'],
      ['CommandFormatError', 'format-error'],
    ] as const)('finishes a pending command on %s', (status, state) => {
      expect(decideReport(report({ status }), command(), 'S1')).toEqual({ kind: 'finish', state });
    });

    it('finishes a command that got NotNow earlier', () => {
      const notNow = command({ state: 'not-now', notNowSessionId: 'S1' });

      expect(decideReport(report(), notNow, 'S1')).toEqual({
        kind: 'finish',
        state: 'acknowledged',
      });
    });
  });

  describe('NotNow', () => {
    it('records a NotNow for a delivered command', () => {
      expect(decideReport(report({ status: 'NotNow' }), command(), 'S1')).toEqual({
        kind: 'not-now',
      });
    });

    it('records a NotNow again in a later session', () => {
      const earlier = command({ state: 'not-now', notNowSessionId: 'S1' });

      expect(decideReport(report({ status: 'NotNow' }), earlier, 'S2')).toEqual({
        kind: 'not-now',
      });
    });

    it('changes nothing for the same NotNow twice in one session', () => {
      const same = command({ state: 'not-now', notNowSessionId: 'S1' });

      expect(decideReport(report({ status: 'NotNow' }), same, 'S1')).toEqual({
        kind: 'ignore',
        reason: 'repeated-not-now',
      });
    });
  });

  describe('reports that change nothing (B17)', () => {
    it('ignores an unknown CommandUUID', () => {
      expect(decideReport(report({ commandUuid: 'UNKNOWN-2' }), null, 'S1')).toEqual({
        kind: 'ignore',
        reason: 'unknown-command',
      });
    });

    it('ignores a NotNow for an unknown CommandUUID', () => {
      expect(
        decideReport(report({ status: 'NotNow', commandUuid: 'UNKNOWN-1' }), null, 'S1'),
      ).toEqual({
        kind: 'ignore',
        reason: 'unknown-command',
      });
    });

    it('ignores an empty CommandUUID', () => {
      expect(decideReport(report({ status: 'Error', commandUuid: '' }), null, 'S1')).toEqual({
        kind: 'ignore',
        reason: 'missing-command-uuid',
      });
    });

    it('ignores a command of another enrollment', () => {
      expect(decideReport(report(), command({ enrollmentId: 'E0' }), 'S1')).toEqual({
        kind: 'ignore',
        reason: 'other-enrollment',
      });
    });

    it.each(['acknowledged', 'error', 'format-error', 'superseded'] as const)(
      'ignores a result for a command already %s (a repeated report)',
      (state) => {
        expect(decideReport(report({ status: 'Error' }), command({ state }), 'S1')).toEqual({
          kind: 'ignore',
          reason: 'already-finished',
        });
      },
    );

    it('treats an Idle that names a CommandUUID as a plain Idle', () => {
      expect(decideReport(report({ status: 'Idle', commandUuid: 'STRAY' }), null, 'S1')).toEqual({
        kind: 'idle',
        strayCommandUuid: 'STRAY',
      });
    });

    it('treats an Idle as no result', () => {
      expect(decideReport(report({ status: 'Idle', commandUuid: undefined }), null, 'S1')).toEqual({
        kind: 'idle',
      });
    });
  });

  describe('sessions', () => {
    it('starts a new session on Idle even when one is open', () => {
      expect(sessionForReport('Idle', 'S1', () => 'S2')).toEqual({
        sessionId: 'S2',
        started: true,
      });
    });

    it('keeps the open session for a result', () => {
      expect(sessionForReport('NotNow', 'S1', () => 'S2')).toEqual({
        sessionId: 'S1',
        started: false,
      });
    });

    it('opens a session for a result that arrives before any Idle', () => {
      expect(sessionForReport('Acknowledged', null, () => 'S9')).toEqual({
        sessionId: 'S9',
        started: true,
      });
    });
  });
});
