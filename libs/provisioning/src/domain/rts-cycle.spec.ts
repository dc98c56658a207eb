import { nextState, phaseDurations } from './rts-cycle.js';

describe('the RTS cycle state machine', () => {
  it('walks the standard cycle from request to return to service', () => {
    expect(nextState('requested', { type: 'erase-queued' })).toEqual({ from: 'requested', to: 'erase-queued' });
    expect(nextState('erase-queued', { type: 'erase-acknowledged' })?.to).toBe('erase-acknowledged');
    expect(nextState('erase-acknowledged', { type: 'awaiting-configuration' })?.to).toBe('provisioning');
    expect(nextState('provisioning', { type: 'device-configured-acknowledged' })?.to).toBe('configured');
    expect(nextState('configured', { type: 'released' })?.to).toBe('returned-to-service');
  });

  it('treats a re-enrollment without an erase acknowledgement as proof of the erase', () => {
    expect(nextState('erase-queued', { type: 'awaiting-configuration' })?.to).toBe('provisioning');
  });

  it('fails the cycle, with the reason, when the device refuses the erase (B01)', () => {
    expect(nextState('erase-queued', { type: 'erase-failed', reason: 'MDM profile required' })).toEqual({
      from: 'erase-queued',
      to: 'failed',
      reason: 'MDM profile required',
    });
  });

  it('ignores late and duplicate inputs instead of moving backwards', () => {
    expect(nextState('provisioning', { type: 'erase-acknowledged' })).toBeNull();
    expect(nextState('returned-to-service', { type: 'device-configured-acknowledged' })).toBeNull();
    expect(nextState('failed', { type: 'deadline-passed', reason: 'late' })).toBeNull();
    expect(nextState('erase-queued', { type: 'device-configured-acknowledged' })).toBeNull();
  });

  it('provisions again when the device enrolls afresh once more during provisioning', () => {
    expect(nextState('provisioning', { type: 'awaiting-configuration' })?.to).toBe('provisioning');
  });

  it('fails a cycle whose start could not finish, and a stalled cycle a new request replaces', () => {
    expect(nextState('requested', { type: 'start-failed', reason: 'broker unavailable' })?.to).toBe('failed');
    expect(nextState('stalled', { type: 'replaced', reason: 'new request' }, 'erase-queued')?.to).toBe('failed');
    expect(nextState('provisioning', { type: 'replaced', reason: 'new request' })).toBeNull();
  });

  it('stalls on a missed deadline and resumes where it stalled when the device comes back', () => {
    expect(nextState('erase-acknowledged', { type: 'deadline-passed', reason: 'no re-enrollment' })?.to).toBe('stalled');
    expect(nextState('stalled', { type: 'awaiting-configuration' }, 'erase-acknowledged')?.to).toBe('provisioning');
    expect(nextState('stalled', { type: 'device-configured-acknowledged' }, 'erase-acknowledged')).toBeNull();
  });
});

describe('phaseDurations', () => {
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

  it('times each phase an operator sees', () => {
    expect(
      phaseDurations({ requestedAt: at(0), eraseAcknowledgedAt: at(2), provisioningAt: at(12), configuredAt: at(20), returnedAt: at(20) }),
    ).toEqual({ erase: 2000, reenroll: 10000, provision: 8000, total: 20000 });
  });

  it('ends the erase phase at re-enrollment when the acknowledgement never came', () => {
    expect(phaseDurations({ requestedAt: at(0), eraseAcknowledgedAt: null, provisioningAt: at(9), configuredAt: null, returnedAt: null })).toEqual({
      erase: 9000,
      reenroll: 0,
    });
  });
});
