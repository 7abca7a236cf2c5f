import type { IncomingMessage } from 'node:http';

/** Whether a request's declared Content-Length is over `limit` (nothing read yet). */
export const declaredOver = (req: IncomingMessage, limit: number): boolean =>
  Number(req.headers['content-length'] ?? 0) > limit;

/**
 * Collects a request's body up to `limit` bytes, for every server of the local cloud. A body
 * declared over the limit is refused before a byte is read; past the limit it calls `tooLarge`
 * at once with the bytes seen (or declared) and keeps nothing: reading the rest would only let
 * the client hold the connection and its buffers; each service answers in its own words.
 * `body` is called from the request's own 'end' event, so what it throws reaches whatever guards
 * that event (the DynamoDB thread answers such throws on the request's own response).
 */
export function collectBody(
  req: IncomingMessage,
  limit: number,
  on: { body: (body: Buffer) => void; tooLarge: (bytes: number) => void },
): void {
  if (declaredOver(req, limit)) {
    on.tooLarge(Number(req.headers['content-length']));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
      on.tooLarge(size);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (!tooLarge) on.body(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  });
}
