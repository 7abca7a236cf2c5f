import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoConsumerLedger } from '../../services/consumer/src/adapters/ledger';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { applyCounterSk, runPk } from '../../shared/src/ledger';
import { firstClaim } from './support/dead-claim';
import {
  answerLate,
  type LedgerBehindProxy,
  shortTimeoutDocuments,
  startLedgerBehindProxy,
} from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The functions' DynamoDB clients end a try at their request timeout (shared/src/aws-clients.ts,
 * 1 s by default) and the SDK sends the same request again, though the try it gave up on may
 * have committed: a slow answer, not a failed write. The counters are the writes that are not
 * naturally repeatable (ADD): the consumer's apply counter and the producer's count of an
 * order's requests. A real HTTP proxy in front of the local DynamoDB forwards the first such
 * update, lets it commit, and holds its answer past the client's request timeout, so the SDK
 * sends the update again.
 */
const { ledger } = pipelineConfig.tables;
const REQUEST_TIMEOUT_MS = 250;

describe('a counter update whose answer comes after the request timeout, its write committed', () => {
  let ledgerBehindProxy: LedgerBehindProxy;
  let documents: DynamoDBDocumentClient;
  /** Runs whose first apply-counter update (or, with `late`, first unconditional one) is held. */
  const held = new Map<string, { late: boolean; tries: number }>();
  /** Orders whose first count of a request is held. */
  const heldCounts = new Map<string, { tries: number }>();

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy(async (received, forward) => {
        const body = received.body.toString();
        if (!String(received.headers['x-amz-target']).endsWith('.UpdateItem')) return undefined;
        const count = [...heldCounts.entries()].find(([orderId]) =>
          body.includes(`"ORDER#${orderId}"`),
        );
        if (count && body.includes('ADD requests')) {
          count[1].tries++;
          return count[1].tries === 1
            ? answerLate(received, forward, 4 * REQUEST_TIMEOUT_MS)
            : forward(received);
        }
        const run = [...held.entries()].find(([runId]) => body.includes(`"${runPk(runId)}"`));
        if (!run || !body.includes('COUNTER#apply')) return undefined;
        const [, hold] = run;
        if (hold.late && body.includes('highSequence')) return undefined;
        hold.tries++;
        // Committed upstream; the first try's answer comes after the client's try ran out.
        return hold.tries === 1
          ? answerLate(received, forward, 4 * REQUEST_TIMEOUT_MS)
          : forward(received);
      }),
    );
    // The functions' client, as the handlers make it, with a short request timeout.
    documents = shortTimeoutDocuments(ledgerBehindProxy.endpoint, REQUEST_TIMEOUT_MS);
  }, 60_000);

  afterAll(async () => {
    documents?.destroy();
  });

  const counter = async (runId: string) =>
    (
      await documents.send(
        new GetCommand({
          TableName: ledger.name,
          Key: { pk: runPk(runId), sk: applyCounterSk('standard', 'cust-1') },
          ConsistentRead: true,
        }),
      )
    ).Item?.value;

  it('takes one index, not two, when the SDK sends the turn again after its try committed', async () => {
    // Prepare
    const runId = 'turn-late-answer';
    held.set(runId, { late: false, tries: 0 });
    const adapter = new DynamoConsumerLedger(documents, ledger.name);

    // Act
    const turn = await adapter.takeApplyTurn(runId, 'standard', 'cust-1', 1);

    // Assess: the update went twice (the first committed, its answer late); the turn is the
    // first index and the counter counted one apply (counted twice, the index after it would be
    // a gap no refusal or crash explains, and the report's applyIndexGaps too high by one).
    expect(held.get(runId)?.tries).toBe(2);
    expect(turn).toEqual({ applyIndex: 1, late: false });
    expect(await counter(runId)).toBe(1);
    expect(await adapter.takeApplyTurn(runId, 'standard', 'cust-1', 2)).toEqual({
      applyIndex: 2,
      late: false,
    });
  }, 30_000);

  it('takes one late index, not two, when the SDK sends a late turn again after its try committed', async () => {
    // Prepare: a higher sequence took its turn first.
    const runId = 'late-turn-late-answer';
    const adapter = new DynamoConsumerLedger(documents, ledger.name);
    await adapter.takeApplyTurn(runId, 'standard', 'cust-1', 5);
    held.set(runId, { late: true, tries: 0 });

    // Act
    const turn = await adapter.takeApplyTurn(runId, 'standard', 'cust-1', 2);

    // Assess
    expect(held.get(runId)?.tries).toBe(2);
    expect(turn).toEqual({ applyIndex: 2, late: true });
    expect(await counter(runId)).toBe(2);
  }, 30_000);

  it("counts a client's retry once, not twice, when the SDK sends the count again after its try committed", async () => {
    // Prepare: an order claimed by its first request (requests: 1).
    const producer = new DynamoLedger(documents, ledger.name, documents, { warn: () => {} });
    const orderId = 'order-count-late-answer';
    await producer.claim(firstClaim('claim-first', 'count-late-answer', orderId));
    heldCounts.set(orderId, { tries: 0 });

    // Act: a client's retry is counted.
    await producer.countRequest(orderId);

    // Assess: the update went twice (the first committed, its answer late); the order counts two
    // requests (three, the report's client retries would be one too many).
    expect(heldCounts.get(orderId)?.tries).toBe(2);
    expect((await producer.getAccepted(orderId))?.requests).toBe(2);
    await producer.countRequest(orderId);
    expect((await producer.getAccepted(orderId))?.requests).toBe(3);
  }, 30_000);
});
