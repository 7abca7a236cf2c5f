import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { runPk, sequenceCounterSk } from '../../shared/src/ledger';
import {
  answerLate,
  type LedgerBehindProxy,
  shortTimeoutDocuments,
  startLedgerBehindProxy,
} from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The producer's per-customer sequence counter (`nextSequence`, `ADD value :one`) when the SDK
 * sends the update again after a try that committed: a real HTTP proxy in front of the local
 * DynamoDB forwards the first update of the customer's counter, lets it commit, and holds its
 * answer past the client's request timeout. Pinned, not fixed: the counter counts twice and the
 * order takes the next value, a hole in the customer's sequence. Nothing reads holes: the report's
 * metrics and the run check are the same with one (test/unit/producer/sequence-hole.test.ts;
 * docs/guarantees.md, Ordering).
 */
const { ledger } = pipelineConfig.tables;
const REQUEST_TIMEOUT_MS = 250;

describe("the customer's sequence counter, its update's answer after the request timeout", () => {
  let ledgerBehindProxy: LedgerBehindProxy;
  let documents: DynamoDBDocumentClient;
  /** Tries of the counter's update the proxy saw, per customer whose first answer it holds. */
  const held = new Map<string, number>();

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy(async (received, forward) => {
        if (!String(received.headers['x-amz-target']).endsWith('.UpdateItem')) return undefined;
        const body = received.body.toString();
        const customer = [...held.keys()].find((c) => body.includes(`"${sequenceCounterSk(c)}"`));
        if (customer === undefined) return undefined;
        const tries = (held.get(customer) ?? 0) + 1;
        held.set(customer, tries);
        // Committed upstream; the first try's answer comes after the client's try ran out.
        return tries === 1
          ? answerLate(received, forward, 4 * REQUEST_TIMEOUT_MS)
          : forward(received);
      }),
    );
    documents = shortTimeoutDocuments(ledgerBehindProxy.endpoint, REQUEST_TIMEOUT_MS);
  }, 60_000);

  afterAll(async () => {
    documents?.destroy();
  });

  it('counts twice: the first order takes 2, and 1 is a hole nobody uses (pinned, tolerated)', async () => {
    // Prepare
    const runId = 'sequence-late-answer';
    const producer = new DynamoLedger(documents, ledger.name, documents, { warn: () => {} });
    held.set('cust-hole', 0);

    // Act
    const first = await producer.nextSequence(runId, 'cust-hole');
    const second = await producer.nextSequence(runId, 'cust-hole');

    // Assess: the update went twice (its first try committed, its answer late), so the counter
    // holds 2 after one order; the next order takes 3.
    expect(held.get('cust-hole')).toBe(3);
    expect([first, second]).toEqual([2, 3]);
    const counter = await documents.send(
      new GetCommand({
        TableName: ledger.name,
        Key: { pk: runPk(runId), sk: sequenceCounterSk('cust-hole') },
        ConsistentRead: true,
      }),
    );
    expect(counter.Item?.value).toBe(3);
  }, 30_000);
});
