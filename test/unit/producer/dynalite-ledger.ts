import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import type { AcceptedOrder } from '../../../services/producer/src/domain/ports';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { type InProcessDynamo, startDynalite } from '../support/dynalite';

/**
 * The producer's ledger adapter over dynalite (the local cloud's DynamoDB) in-process, for the
 * tests of what DynamoDB itself decides (conditions, list appends): the ledger table as the
 * local cloud creates it, and a claim record as a first request writes one.
 */
export const LEDGER_TABLE = pipelineConfig.tables.ledger;

/** The time every claim record below is taken at (epoch ms). */
export const T = 1_764_050_000_000;

export interface DynaliteLedger {
  dynamo: InProcessDynamo;
  documents: DynamoDBDocumentClient;
  ledger: DynamoLedger;
}

export async function startDynaliteLedger(): Promise<DynaliteLedger> {
  const dynamo = await startDynalite([LEDGER_TABLE]);
  const documents = DynamoDBDocumentClient.from(dynamo.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    dynamo,
    documents,
    ledger: new DynamoLedger(documents, LEDGER_TABLE.name, documents, { warn: () => {} }),
  };
}

/** The record a first request claims order `orderId` with at T (`claim-1` holding the send lease), `fields` over it. */
export function claimRecord(
  orderId: string,
  fields: Partial<AcceptedOrder> = {},
): AcceptedOrder & { claimId: string } {
  return {
    runId: 'run-1',
    orderId,
    customerId: 'cust-1',
    sequence: 1,
    acceptedAt: T,
    payloadHash: 'h',
    messageIds: { fifo: '', standard: '' },
    sentAt: {},
    requests: 1,
    sendingBy: 'claim-1',
    sendingUntil: T + 10_000,
    ...fields,
    claimId: fields.claimId ?? 'claim-1',
  };
}
