import { createBrowserGuard } from '../../../local/browser-guard';
import { createEdgeHandler, type RequestListener } from '../../../local/edge';
import type { LiveView } from '../../../local/live/server';

/** The edge's handler as the local cloud builds it, with the live view and the browser guard. */
export function edgeWith(live: LiveView): RequestListener {
  const unused: RequestListener = (_req, res) => {
    res.writeHead(500);
    res.end();
  };
  return createEdgeHandler(
    { sqs: unused, dynamodb: unused, live: (req, res) => live.handle(req, res) },
    { guard: createBrowserGuard({ host: '127.0.0.1' }) },
  );
}
