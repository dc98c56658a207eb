import * as checkinAuthenticated from './checkin/device-authenticated.message.js';
import * as checkinEnrolled from './checkin/device-enrolled.message.js';
import * as checkinAwait from './checkin/await-configuration.message.js';
import * as checkinCheckedOut from './checkin/device-checked-out.message.js';
import * as checkinRts from './checkin/return-to-service-answered.message.js';
import * as checkinResolve from './checkin/resolve-identity.message.js';
import * as checkinIssue from './checkin/issue-enrollment-profile.message.js';
import * as escrowStore from './escrow/store-bootstrap-token.message.js';
import * as escrowFetch from './escrow/fetch-bootstrap-token.message.js';
import * as escrowEvents from './escrow/bootstrap-token-escrowed.message.js';
import * as escrowRequests from './escrow/escrow-requests.message.js';
import * as enqueue from './commands/enqueue-commands.message.js';
import * as results from './commands/command-results.message.js';
import { AppPreservationDeclined, CycleEvents, SnapshotReady } from './provisioning/rts-cycle.message.js';
import * as provisioningRequests from './provisioning/device-requests.message.js';
import { EventContract, RequestContract } from './envelope.js';

type AnyContract = EventContract<unknown> | RequestContract<unknown, unknown>;

function contractsIn(module: Record<string, unknown>): AnyContract[] {
  return Object.values(module).filter(
    (value): value is AnyContract =>
      typeof value === 'object' && value !== null && 'routingKey' in value && 'kind' in value,
  );
}

/** Every message in the system, for tooling (topology, documentation, tests). */
export const CONTRACTS: readonly AnyContract[] = [
  ...[
    checkinAuthenticated,
    checkinEnrolled,
    checkinAwait,
    checkinCheckedOut,
    checkinRts,
    checkinResolve,
    checkinIssue,
    escrowStore,
    escrowFetch,
    escrowEvents,
    escrowRequests,
    provisioningRequests,
    enqueue,
    results,
  ].flatMap((module) => contractsIn(module as Record<string, unknown>)),
  ...(Object.values(CycleEvents) as AnyContract[]),
  AppPreservationDeclined as AnyContract,
  SnapshotReady as AnyContract,
];
