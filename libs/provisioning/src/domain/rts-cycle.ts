import type { CycleState } from '@turnaround/contracts';

/** What can happen to a cycle. Each input comes from one event or one timer. */
export type CycleInput =
  | { type: 'erase-queued' }
  | { type: 'blocked'; reason: string }
  | { type: 'erase-answered' }
  | { type: 'erase-acknowledged' }
  | { type: 'erase-failed'; reason: string }
  | { type: 'awaiting-configuration' }
  | { type: 'device-configured-acknowledged' }
  | { type: 'device-configured-failed'; reason: string }
  | { type: 'released' }
  | { type: 'snapshot-started' }
  | { type: 'snapshot-ready'; reason?: string }
  | { type: 'start-failed'; reason: string }
  | { type: 'replaced'; reason: string }
  | { type: 'enrollment-ended'; reason: string }
  | { type: 'deadline-passed'; reason: string };

export interface CycleTransitionResult {
  from: CycleState;
  to: CycleState;
  reason?: string;
}

const TERMINAL: ReadonlySet<CycleState> = new Set(['returned-to-service', 'failed']);

export function isTerminal(state: CycleState): boolean {
  return TERMINAL.has(state);
}

/**
 * One Return to Service cycle:
 *
 *   requested → erase-queued → erase-acknowledged → provisioning → configured → returned-to-service
 *                                                                            ↘ snapshotting ↗
 *
 * - With app preservation, DeviceConfigured is not the end: the device answers NotNow while it
 *   installs, removes and snapshots, then resumes; that window is `snapshotting`.
 * - A device-triggered cycle (the ReturnToService check-in) has no erase command: once the device
 *   has its answer it erases, so the cycle goes from requested straight to erase-acknowledged.
 * - Activation Lock that cannot be cleared stops a cycle in `blocked` before any erase; like a
 *   stalled cycle, it holds nothing and a new request replaces it.
 * - The erase acknowledgement may never arrive (the device erases at once), so a fresh enrollment
 *   awaiting configuration moves an erase-queued cycle straight to provisioning.
 * - An Error for the erase means the device did not erase: failed, never marked erased (B01).
 * - A missed phase deadline moves the cycle to stalled with the reason; a stalled cycle resumes
 *   when the awaited event arrives after all, or fails when a new request replaces it.
 * - A cycle whose erase could not be queued fails at once instead of waiting for its deadline.
 * - Returns null when the input does not apply in this state (a duplicate or late event).
 */
export function nextState(current: CycleState, input: CycleInput, resumedFrom?: CycleState): CycleTransitionResult | null {
  if (isTerminal(current)) {
    return null;
  }
  const effective = current === 'stalled' && resumedFrom && input.type !== 'replaced' ? resumedFrom : current;
  const to = target(effective, input);
  if (to === null) {
    return null;
  }
  const reason = 'reason' in input ? input.reason : undefined;

  return reason ? { from: current, to, reason } : { from: current, to };
}

function target(state: CycleState, input: CycleInput): CycleState | null {
  switch (input.type) {
    case 'erase-queued':
      return state === 'requested' ? 'erase-queued' : null;
    case 'blocked':
      return state === 'requested' ? 'blocked' : null;
    case 'erase-answered':
      return state === 'requested' ? 'erase-acknowledged' : null;
    case 'erase-acknowledged':
      return state === 'erase-queued' ? 'erase-acknowledged' : null;
    case 'erase-failed':
      return state === 'erase-queued' ? 'failed' : null;
    case 'awaiting-configuration':
      // From provisioning too: a device that enrolls afresh again while being provisioned (it
      // restarted in Setup Assistant) is provisioned again for its new enrollment.
      // From requested or blocked too: the device erased anyway (an earlier cycle's erase that was
      // still queued, or a person), and a device left awaiting configuration would wait forever.
      return state === 'requested' || state === 'blocked' || state === 'erase-queued' || state === 'erase-acknowledged' || state === 'provisioning'
        ? 'provisioning'
        : null;
    case 'device-configured-acknowledged':
      return state === 'provisioning' ? 'configured' : null;
    case 'device-configured-failed':
      return state === 'provisioning' ? 'failed' : null;
    case 'released':
      return state === 'configured' ? 'returned-to-service' : null;
    case 'snapshot-started':
      return state === 'configured' ? 'snapshotting' : null;
    case 'snapshot-ready':
      return state === 'snapshotting' ? 'returned-to-service' : null;
    case 'enrollment-ended':
      return 'failed';
    case 'start-failed':
      return state === 'requested' || state === 'erase-queued' ? 'failed' : null;
    case 'replaced':
      return state === 'stalled' || state === 'blocked' ? 'failed' : null;
    case 'deadline-passed':
      // A requested cycle has a deadline only when it waits for a device's answer (device trigger).
      return state === 'blocked' ? null : 'stalled';
  }
}

export type PhaseName = 'erase' | 'reenroll' | 'provision' | 'snapshot' | 'total';

export interface CycleMoments {
  requestedAt: Date | null;
  eraseAcknowledgedAt: Date | null;
  provisioningAt: Date | null;
  configuredAt: Date | null;
  snapshotStartedAt?: Date | null;
  returnedAt: Date | null;
}

/**
 * Milliseconds per phase an operator sees; a phase that has not ended is absent. An erase that was
 * never acknowledged ended, as far as anyone can tell, when the device came back.
 */
export function phaseDurations(moments: CycleMoments): Partial<Record<PhaseName, number>> {
  const erased = moments.eraseAcknowledgedAt ?? moments.provisioningAt;
  const spans: [PhaseName, Date | null, Date | null][] = [
    ['erase', moments.requestedAt, erased],
    ['reenroll', erased, moments.provisioningAt],
    ['provision', moments.provisioningAt, moments.configuredAt],
    ['snapshot', moments.snapshotStartedAt ?? null, moments.returnedAt],
    ['total', moments.requestedAt, moments.returnedAt],
  ];
  const durations: Partial<Record<PhaseName, number>> = {};
  for (const [name, from, to] of spans) {
    if (from && to) {
      durations[name] = Math.max(0, to.getTime() - from.getTime());
    }
  }

  return durations;
}
