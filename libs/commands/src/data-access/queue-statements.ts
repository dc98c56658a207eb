import type { DataGate } from '@turnaround/platform';

import { CommandState, PENDING_STATES } from '../domain/queue-rules.js';
import {
  CommandEntity,
  EnrollmentQueueEntity,
  IdentityProjectionEntity,
} from './commands.entities.js';

/*
 * Statements of the device request paths, written out rather than built by TypeORM: on every
 * Idle and report, building and hydrating through the query builder cost more CPU than the
 * database did (bench/profile-*.md). Each reads through an index; query-plans.spec.ts holds
 * them to it. The state lists are the code's own constants, never input.
 */

const pendingStates = (): string => PENDING_STATES.map((state) => `'${state}'`).join(', ');

/** Who signed, is the enrollment known and active, is anything pending: one read per Idle. */
export function quietIdleStatement(gate: DataGate): string {
  return `SELECT i."udid", i."enrollmentId", i."userEnrollment", e."status",
  EXISTS (SELECT 1 FROM ${gate.table(CommandEntity)} c WHERE c."enrollmentId" = i."enrollmentId"
    AND c."state" IN (${pendingStates()})) AS "pending"
  FROM ${gate.table(IdentityProjectionEntity)} i
  LEFT JOIN ${gate.table(EnrollmentQueueEntity)} e ON e."enrollmentId" = i."enrollmentId"
  WHERE i."fingerprint" = $1`;
}

export interface QuietIdleRow {
  udid: string;
  enrollmentId: string;
  userEnrollment: boolean | number;
  status: string | null;
  pending: boolean | number;
}

/**
 * The pending queue of one enrollment with only what choosing the next command needs: no body,
 * no profile reference. A device with a long queue would otherwise have every body read and
 * hydrated on each request to answer with one of them.
 */
export function pendingQueueStatement(gate: DataGate): string {
  return `SELECT c."commandUuid", c."requestType", c."udid", c."correlationId", c."sequence",
  c."state", c."deliveries", c."notNowSessionId", c."whileAwaitingConfiguration"
  FROM ${gate.table(CommandEntity)} c
  WHERE c."enrollmentId" = $1 AND c."state" IN (${pendingStates()})`;
}

export interface PendingQueueRow {
  commandUuid: string;
  requestType: string;
  udid: string;
  correlationId: string | null;
  sequence: number | string;
  state: CommandState;
  deliveries: number | string;
  notNowSessionId: string | null;
  whileAwaitingConfiguration: boolean | number;
}

/** A pending command as the queue rules and a command reference need it. */
export interface PendingQueueEntry {
  enrollmentId: string;
  commandUuid: string;
  requestType: string;
  udid: string;
  correlationId: string | null;
  sequence: number;
  state: CommandState;
  deliveries: number;
  notNowSessionId: string | null;
  whileAwaitingConfiguration: boolean;
}

// SQLite answers booleans as 0/1; PostgreSQL may answer an integer column as a string.
export function pendingQueueEntry(enrollmentId: string, row: PendingQueueRow): PendingQueueEntry {
  return {
    enrollmentId,
    commandUuid: row.commandUuid,
    requestType: row.requestType,
    udid: row.udid,
    correlationId: row.correlationId,
    sequence: Number(row.sequence),
    state: row.state,
    deliveries: Number(row.deliveries),
    notNowSessionId: row.notNowSessionId,
    whileAwaitingConfiguration: Boolean(row.whileAwaitingConfiguration),
  };
}

/** A result on a command: its new state and when; a NotNow also names the session it came in. */
export function commandResultStatement(gate: DataGate): string {
  return `UPDATE ${gate.table(CommandEntity)} SET "state" = $3,
  "notNowSessionId" = COALESCE($4, "notNowSessionId"), "lastReportAt" = $5, "updatedAt" = $5
  WHERE "enrollmentId" = $1 AND "commandUuid" = $2`;
}

/** A command handed to the device in the answer to this request. */
export function commandDeliveredStatement(gate: DataGate): string {
  return `UPDATE ${gate.table(CommandEntity)} SET "state" = 'delivered', "deliveries" = $3,
  "lastDeliveredAt" = $4, "updatedAt" = $4
  WHERE "enrollmentId" = $1 AND "commandUuid" = $2`;
}

/** The device's command session, opened by an Idle. */
export function sessionOpenedStatement(gate: DataGate): string {
  return `UPDATE ${gate.table(EnrollmentQueueEntity)} SET "sessionId" = $2, "sessionStartedAt" = $3,
  "updatedAt" = $3 WHERE "enrollmentId" = $1`;
}

/** The statements of one device report, written once per repository. */
export function reportStatements(gate: DataGate) {
  return {
    pendingQueue: pendingQueueStatement(gate),
    commandResult: commandResultStatement(gate),
    commandDelivered: commandDeliveredStatement(gate),
    sessionOpened: sessionOpenedStatement(gate),
  };
}

export type ReportStatements = ReturnType<typeof reportStatements>;
