import { ContractViolation, Envelope } from '@turnaround/contracts';
import { recordDelivery, runWithMessageContext } from '@turnaround/platform';

import { describeError, RetryPolicy } from './transport.js';

export type DeliveryOutcome =
  | { action: 'ack' }
  | { action: 'retry'; reason: string }
  | { action: 'dead-letter'; reason: string };

/**
 * The one place that decides what happens to a delivery: handled → ack; a message that breaks its
 * contract → dead-letter at once (retrying cannot fix it); anything else → retry until the
 * policy's attempts are spent, then dead-letter with the last error.
 */
export async function deliver(
  group: string,
  handler: (envelope: Envelope) => Promise<void>,
  envelope: Envelope,
  attempt: number,
  policy: RetryPolicy,
): Promise<DeliveryOutcome> {
  const outcome = await runWithMessageContext(envelope, () => decide(handler, envelope, attempt, policy));
  recordDelivery(group, envelope.type, outcome.action);

  return outcome;
}

async function decide(
  handler: (envelope: Envelope) => Promise<void>,
  envelope: Envelope,
  attempt: number,
  policy: RetryPolicy,
): Promise<DeliveryOutcome> {
  try {
    await handler(envelope);

    return { action: 'ack' };
  } catch (error) {
    const { code, message } = describeError(error);
    const reason = `${code}: ${message}`;
    if (error instanceof ContractViolation || code === 'CONTRACT.VIOLATION' || attempt >= policy.maxAttempts) {
      return { action: 'dead-letter', reason };
    }

    return { action: 'retry', reason };
  }
}
