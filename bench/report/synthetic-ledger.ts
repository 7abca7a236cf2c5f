import type { RunLedger } from '../../services/report/src/domain/metrics';
import { acceptedKeys } from '../../shared/src/ledger';
import type { QueueKind } from '../../shared/src/queue-kind';
import { createRng } from '../../shared/src/random';

/**
 * A ledger shaped like a real run (FIFO in order, standard lightly shuffled with ~1% extra
 * deliveries), sized by deliveries, so the report's cost can be measured without a pipeline.
 */
export function syntheticLedger(
  ordersPerQueue: number,
  customers: number,
  seed: number,
): RunLedger {
  const rng = createRng(seed);
  const ledger: RunLedger = { accepted: [], deliveries: [], effects: [], failures: [] };
  const seq = new Map<string, number>();
  const orders: { orderId: string; customerId: string; sequence: number; acceptedAt: number }[] =
    [];
  for (let i = 0; i < ordersPerQueue; i++) {
    const customerId = `c${i % customers}`;
    const sequence = (seq.get(customerId) ?? 0) + 1;
    seq.set(customerId, sequence);
    const o = { orderId: `o${i}`, customerId, sequence, acceptedAt: i };
    orders.push(o);
    ledger.accepted.push({
      ...acceptedKeys('b', o.orderId),
      type: 'accepted',
      runId: 'b',
      ...o,
      requests: 1,
    });
  }
  for (const queue of ['fifo', 'standard'] as QueueKind[]) {
    const list = orders.slice();
    if (queue === 'standard') {
      for (let i = list.length - 1; i > 0; i--) {
        if (rng() < 0.05) {
          const j = Math.max(0, i - 1 - Math.floor(rng() * 20));
          [list[i], list[j]] = [list[j]!, list[i]!];
        }
      }
    }
    const counters = new Map<string, number>();
    let t = 1_000_000;
    for (const o of list) {
      const applyIndex = (counters.get(o.customerId) ?? 0) + 1;
      counters.set(o.customerId, applyIndex);
      const base = { pk: 'RUN#b', runId: 'b', queue, ...o, messageId: `${queue}${o.orderId}` };
      ledger.deliveries.push({
        ...base,
        sk: `DELIVERY#${queue}#${o.orderId}#1`,
        type: 'delivery',
        receiveCount: 1,
        sentAt: o.acceptedAt,
        firstReceivedAt: t,
        receivedAt: t,
        outcome: 'applied',
      });
      ledger.effects.push({
        ...base,
        sk: `EFFECT#${queue}#${o.orderId}#1`,
        type: 'effect',
        applyIndex,
        committedAt: t + 3,
      });
      if (queue === 'standard' && rng() < 0.01) {
        ledger.deliveries.push({
          ...base,
          sk: `DELIVERY#${queue}#${o.orderId}#2`,
          type: 'delivery',
          receiveCount: 1,
          sentAt: o.acceptedAt,
          firstReceivedAt: t + 50,
          receivedAt: t + 50,
          outcome: 'suppressed',
        });
      }
      t += 1;
    }
  }
  return ledger;
}
