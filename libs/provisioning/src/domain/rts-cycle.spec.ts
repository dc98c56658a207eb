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

describe('the RTS cycle with app preservation, device triggers and Activation Lock', () => {
  it('goes through a snapshot phase after DeviceConfigured and ends when the device resumes', () => {
    expect(nextState('configured', { type: 'snapshot-started' })?.to).toBe('snapshotting');
    expect(nextState('snapshotting', { type: 'snapshot-ready' })?.to).toBe('returned-to-service');
    expect(nextState('snapshotting', { type: 'released' })).toBeNull();
    expect(nextState('provisioning', { type: 'snapshot-ready' })).toBeNull();
  });

  it('stalls a snapshot phase past its deadline and finishes it if the device resumes after all', () => {
    expect(nextState('snapshotting', { type: 'deadline-passed', reason: 'no inventory' })?.to).toBe(
      'stalled',
    );
    expect(nextState('stalled', { type: 'snapshot-ready' }, 'snapshotting')?.to).toBe(
      'returned-to-service',
    );
  });

  it('moves a device-triggered cycle to erase-acknowledged once the device has its answer', () => {
    expect(nextState('requested', { type: 'erase-answered' })?.to).toBe('erase-acknowledged');
    expect(nextState('erase-queued', { type: 'erase-answered' })).toBeNull();
    expect(nextState('requested', { type: 'deadline-passed', reason: 'never answered' })?.to).toBe(
      'stalled',
    );
  });

  it('blocks a cycle before any erase when Activation Lock stays on; a new request replaces it', () => {
    expect(nextState('requested', { type: 'blocked', reason: 'Activation Lock' })).toEqual({
      from: 'requested',
      to: 'blocked',
      reason: 'Activation Lock',
    });
    expect(nextState('erase-queued', { type: 'blocked', reason: 'too late' })).toBeNull();
    expect(nextState('blocked', { type: 'deadline-passed', reason: 'late' })).toBeNull();
    expect(nextState('blocked', { type: 'erase-queued' })).toBeNull();
    expect(nextState('blocked', { type: 'replaced', reason: 'new request' })?.to).toBe('failed');
  });
});

describe('phaseDurations', () => {
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

  it('times each phase an operator sees', () => {
    expect(
      phaseDurations({ requestedAt: at(0), eraseAcknowledgedAt: at(2), provisioningAt: at(12), configuredAt: at(20), returnedAt: at(20) }),
    ).toEqual({ erase: 2000, reenroll: 10000, provision: 8000, total: 20000 });
  });

  it('times the snapshot phase of an app-preservation cycle', () => {
    expect(
      phaseDurations({
        requestedAt: at(0),
        eraseAcknowledgedAt: at(2),
        provisioningAt: at(12),
        configuredAt: at(20),
        snapshotStartedAt: at(20),
        returnedAt: at(26),
      }),
    ).toEqual({ erase: 2000, reenroll: 10000, provision: 8000, snapshot: 6000, total: 26000 });
  });

  it('ends the erase phase at re-enrollment when the acknowledgement never came', () => {
    expect(phaseDurations({ requestedAt: at(0), eraseAcknowledgedAt: null, provisioningAt: at(9), configuredAt: null, returnedAt: null })).toEqual({
      erase: 9000,
      reenroll: 0,
    });
  });
});
