import type { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import type { AcceptedOrder } from '../../../services/producer/src/domain/ports';

/** A first request's claim of an order: accepted at 1000, nothing sent yet. */
export function firstClaim(
  claimId: string,
  runId: string,
  orderId: string,
): AcceptedOrder & { claimId: string } {
  return {
    claimId,
    runId,
    orderId,
    customerId: 'cust-1',
    sequence: 1,
    acceptedAt: 1000,
    payloadHash: 'h',
    messageIds: { fifo: '', standard: '' },
    sentAt: {},
    requests: 1,
  };
}

/**
 * An order whose claiming request died: claimed by `claim-dead`, whose send lease ran out at
 * 1500. Answers a retry's bid for the send lease at `now`, on the record as it reads it first,
 * held until `now` + 9 s.
 */
export async function claimedByDeadRequest(
  producer: DynamoLedger,
  runId: string,
  orderId: string,
): Promise<(by: string, now: number) => ReturnType<DynamoLedger['leaseSends']>> {
  await producer.claim({
    ...firstClaim('claim-dead', runId, orderId),
    sendingBy: 'claim-dead',
    sendingUntil: 1500,
  });
  return async (by, now) =>
    producer.leaseSends(orderId, {
      by,
      from: (await producer.getAccepted(orderId))?.sendingBy,
      until: now + 9000,
      now,
      legacyWindowMs: 11_000,
    });
}
