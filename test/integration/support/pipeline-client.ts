import { randomUUID } from 'node:crypto';
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { runPk } from '../../../shared/src/ledger';
import type { Target } from './target';

/** A parsed JSON response or record: tests read into it freely and assert on what they read. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON from the wire, checked by the assertions.
export type Json = Record<string, any>;

/** Small HTTP + ledger helpers the scenarios share; every wait is bounded. */

export interface OrderBody {
  customerId: string;
  items: { sku: string; quantity: number; unitPrice: number }[];
  amount: number;
  currency: string;
  sequence?: number;
}

export function order(customerId: string, sequence?: number, unitPrice = 5): OrderBody {
  return {
    customerId,
    items: [{ sku: 'sku-1', quantity: 2, unitPrice }],
    amount: 2 * unitPrice,
    currency: 'EUR',
    ...(sequence !== undefined ? { sequence } : {}),
  };
}

/** Just past the queues' visibility timeout (both queues share it): a failed receive is back. */
export const VISIBILITY_MS =
  Math.max(
    pipelineConfig.queues.fifo.visibilityTimeoutSeconds,
    pipelineConfig.queues.standard.visibilityTimeoutSeconds,
  ) *
    1000 +
  1000;

export const newRunId = (label: string): string => `it-${label}-${randomUUID().slice(0, 8)}`;

/** A deployed REST API wants its key (usage plan); the local gateway ignores the header. */
function apiKeyHeader(target: Target): Record<string, string> {
  return target.apiKey ? { 'x-api-key': target.apiKey } : {};
}

export async function postOrder(
  target: Target,
  body: unknown,
  {
    runId,
    idempotencyKey,
    contentType = 'application/json',
  }: {
    runId: string;
    idempotencyKey?: string;
    contentType?: string;
  },
): Promise<{ status: number; json: Json; retryAfter?: string }> {
  const res = await fetch(`${target.apiUrl}/orders`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-run-id': runId,
      ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      ...apiKeyHeader(target),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { raw: text };
  }
  const retryAfter = res.headers.get('retry-after');
  return { status: res.status, json, ...(retryAfter !== null ? { retryAfter } : {}) };
}

export async function getOrder(
  target: Target,
  orderId: string,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${target.apiUrl}/orders/${encodeURIComponent(orderId)}`, {
    headers: apiKeyHeader(target),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

export class WaitTimeoutError extends Error {
  constructor(what: string, ms: number, last: unknown) {
    super(
      `timed out after ${ms} ms waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 800)}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

/** Polls `probe` until `done` holds, at most `timeoutMs`; returns the last value. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  {
    timeoutMs = 20_000,
    intervalMs = 100,
    onPoll,
  }: { timeoutMs?: number; intervalMs?: number; onPoll?: () => Promise<void> } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await onPoll?.();
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new WaitTimeoutError(what, timeoutMs, last);
}

/** Every ledger record of one run whose sort key starts with `prefix`. */
export async function ledgerRecords(
  target: Target,
  runId: string,
  prefix: string,
): Promise<Json[]> {
  const items: Json[] = [];
  const pages = paginateQuery(
    { client: target.documents },
    {
      TableName: target.tableNames.ledger,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': prefix },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) items.push(...((page.Items ?? []) as Json[]));
  return items;
}
