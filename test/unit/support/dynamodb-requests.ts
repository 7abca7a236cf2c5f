import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** One DynamoDB request as sent over HTTP: its operation and the tables it names. */
export interface SentRequest {
  operation: string;
  tables: string[];
}

/**
 * Logs every request `client` sends (and every document client made from it, which shares its
 * middleware) from now until `stop()`: the operation from the `X-Amz-Target` header and the
 * tables from the body (`TableName`, or `RequestItems`' keys for a batch write), one entry per
 * try.
 */
export function logRequests(client: DynamoDBClient): { sent: SentRequest[]; stop(): void } {
  const sent: SentRequest[] = [];
  const name = `logRequests-${Math.random()}`;
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const target = String(request.headers?.['x-amz-target'] ?? '');
      const text =
        typeof request.body === 'string'
          ? request.body
          : request.body instanceof Uint8Array
            ? Buffer.from(request.body).toString('utf8')
            : '{}';
      const body = JSON.parse(text || '{}') as {
        TableName?: string;
        RequestItems?: Record<string, unknown>;
      };
      sent.push({
        operation: target.slice(target.lastIndexOf('.') + 1),
        tables: body.TableName ? [body.TableName] : Object.keys(body.RequestItems ?? {}),
      });
      return next(args);
    },
    { step: 'finalizeRequest', name },
  );
  return { sent, stop: () => void client.middlewareStack.remove(name) };
}

/** How many of `sent` are `operation` on `table`. */
export const countOf = (sent: SentRequest[], operation: string, table: string): number =>
  sent.filter((r) => r.operation === operation && r.tables.includes(table)).length;
