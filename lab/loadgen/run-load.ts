import { oneLine } from '../../shared/src/cli/args';
import { createRng, freshSeed, hash32 } from '../../shared/src/random';
import { codePointPrefix } from '../../shared/src/text';
import { OrdersApi, type PostResult } from './adapters/orders-api';
import {
  backoffMs,
  isRetryableStatus,
  type LoadPlan,
  type PlannedOrder,
  planLoad,
} from './domain/plan';
import { CustomerScheduler, slotTime } from './domain/schedule';
import { RefusalWatch, reachedNothing } from './domain/unreachable';

export interface LoadOptions {
  apiUrl: string;
  apiKey?: string;
  orders: number;
  customers: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Orders started per second; 0 = as fast as the concurrency allows. */
  rate: number;
  retryRate: number;
  seed?: number;
  runId?: string;
  /**
   * How long one order's POSTs go on retrying a retriable failure (network error, timeout, 429,
   * 500, 502, 503, 504, a 409 with Retry-After), from its first try: a retry whose wait would end
   * past it is not made, and the order is given up. Default RETRY_DEADLINE_MS.
   */
  retryDeadlineMs?: number;
  /** At most this many POSTs an order as well (default: no count, the deadline alone). */
  maxAttempts?: number;
  /**
   * How long the look-ups of the orders given up (GET /orders/{key}, after the load) go on, all
   * of them together. Default LOOKUP_DEADLINE_MS.
   */
  lookupDeadlineMs?: number;
  /**
   * The backoff between retries: full jitter, base x 2^n capped (backoffMs); an answer's
   * Retry-After makes the wait longer, never shorter.
   */
  backoff?: { baseMs: number; capMs: number };
  /**
   * How long every POST, across all the workers, must have reached nothing (ECONNREFUSED:
   * nothing listening at the url; EHOSTUNREACH, ENETUNREACH: no route to it), with no other
   * outcome in between, before the client stops sending, gives up every order not yet accepted
   * or given up as 'API unreachable', and looks up no given-up order. An HTTP answer of any
   * status, a lost answer, a reset, a timeout or any other network error (ENOTFOUND) starts the
   * window again. Default UNREACHABLE_WINDOW_MS.
   */
  unreachableWindowMs?: number;
  requestTimeoutMs?: number;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  /** Orders finished: answered or given up on, and their client retries sent. */
  done: number;
  total: number;
  /** Orders whose first POST was answered 202, done or not. */
  accepted: number;
  /** Of those, the ones not done yet: their client retries are still being sent. */
  sendingRetries?: number;
  errors: number;
  elapsedMs: number;
}

/**
 * An order the client got no 202 for: refused (a 4xx the client must not retry), or whose
 * retries ran out. The latter may have been accepted all the same (a try that timed out, or was
 * answered 500 or 502, may have recorded it): after the load, GET /orders/{key} asks the API.
 */
export interface GivenUpOrder {
  /** Its Idempotency-Key, which is also its order id at the API. */
  idempotencyKey: string;
  /** POSTs sent for it. */
  attempts: number;
  /**
   * Why the client stopped: refused, its retries ran out (the deadline or maxAttempts), a 202
   * whose body names no order (no `orderId` string: the API may hold the order all the same), or
   * every connection to the API was refused or had no route for the unreachable window (LoadSummary.unreachable): the
   * client stopped sending, with this order not accepted, tried or not (`attempts` 0).
   */
  why: 'refused' | 'retries ran out' | 'unreadable answer' | 'API unreachable';
  /** Its last answer (`HTTP 503: ...`, `network error ECONNRESET`; `not sent` when none). */
  last: string;
  /**
   * What the API said of it after the load: it holds the order (`accepted`: counted as accepted,
   * its id in orderIds), it does not (`not found`), or no answer came (`unknown`); or it was not
   * asked (`not asked`: the look-ups' time had run out, or the API was unreachable). Absent for a
   * refused order (its key may name another order) and for an 'API unreachable' order that
   * never reached the API (not sent, or every try refused or with no route): neither is asked.
   */
  atApi?: 'accepted' | 'not found' | 'unknown' | 'not asked';
}

export interface LoadSummary {
  runId: string;
  seed: number;
  /**
   * POST requests sent, backoff retries and client retries included; not a try whose connection
   * was refused (no request was sent): those are `refused`.
   */
  sent: number;
  /** POST tries that reached nothing (connection refused, or no route to it): no request sent. */
  refused: number;
  /**
   * Distinct orders the API accepted: answered 202, or given up on and then found at the API
   * (givenUp, `atApi: 'accepted'`).
   */
  accepted: number;
  /** Simulated client retries sent (repeated POSTs of an accepted order). */
  retries: number;
  /**
   * Client retries (in `retries`) being tried when the API was found gone (`unreachable`): no
   * answer to check, each an error.
   */
  retriesUnanswered: number;
  /** Planned client retries not made because the API was found gone (`unreachable`): never sent. */
  retriesNotMade: number;
  /** Client retries that came back with a different orderId (must be 0: the key is the id). */
  retryMismatches: number;
  /** Retries after 429/503/network errors, and after a 409 that said when to come back (Retry-After). */
  backoffRetries: number;
  /**
   * Orders not accepted (refused, or given up on and not found at the API) plus client retries
   * answered wrongly.
   */
  errors: number;
  /** Every order the client got no 202 for, in the order given up, with what the API said later. */
  givenUp: GivenUpOrder[];
  /** First few error lines, for the person at the terminal. */
  errorSamples: string[];
  elapsedMs: number;
  /** Accepted orders per second over the run. */
  ratePerSec: number;
  /** orderIds the API returned, per customer in sequence order. */
  orderIds: string[];
  /**
   * Set when the client stopped sending because every POST had its connection refused for the
   * unreachable window: when the refusals began and when it stopped (ms from the run's start),
   * the refused tries, and the window.
   */
  unreachable?: { sinceMs: number; atMs: number; refusals: number; windowMs: number };
}

/** The longest wait a timer holds (2^31 - 1 ms, 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long an order's POSTs are retried by default: several of the producer's 10 s function
 * timeouts and API Gateway's 29 s, so a machine or a region busy for a minute still gets every
 * order in; an API that answers nothing for two minutes is down, not busy.
 */
export const RETRY_DEADLINE_MS = 120_000;

/**
 * How long every POST must have had its connection refused, with nothing else in between, for
 * the client to stop sending: a restarting `npm start` or a redeploy is back well within it, and
 * an API gone for good costs this, not every remaining order's whole retry deadline
 * (orders / concurrency x 120 s: 2 h for 1,000 orders at 16).
 */
export const UNREACHABLE_WINDOW_MS = 30_000;

/** How long the look-ups of the given-up orders (GET /orders/{key}) are retried, all of them. */
export const LOOKUP_DEADLINE_MS = 30_000;

/** One look-up's timeout. */
const PROBE_TIMEOUT_MS = 10_000;

/** A failure that the same request, with the same Idempotency-Key, may get past when tried again. */
function retriable(r: PostResult): boolean {
  // A 409 with Retry-After: an earlier try of this key may still be sending the order (its
  // answer was lost to a timeout); the producer says when the record will answer.
  return (
    r.status === 0 ||
    isRetryableStatus(r.status) ||
    (r.status === 409 && r.retryAfterMs !== undefined)
  );
}

/**
 * A try that reached nothing, no request sent: its connection refused (nothing listening), or no
 * route to the host or its network (reachedNothing).
 */
function refusedConnection(r: PostResult): boolean {
  return r.status === 0 && reachedNothing(r.networkError);
}

/** The most of an answer's message an error line quotes. */
const MAX_MESSAGE_CHARS = 200;

/**
 * An answer's message as an error line quotes it: at most MAX_MESSAGE_CHARS, on one line, with
 * control characters escaped. A hostile or broken API's message was printed whole and raw (50 MB
 * twice per order; escape sequences that cleared the terminal, newlines that forged lines).
 */
function quoted(message: unknown): string {
  const text = typeof message === 'string' ? message : (JSON.stringify(message) ?? '');
  const cut = codePointPrefix(text, MAX_MESSAGE_CHARS);
  return cut.length < text.length ? `${oneLine(cut)}...` : oneLine(cut);
}

function describe(r: PostResult): string {
  if (r.networkError) return `network error ${r.networkError}`;
  const body = r.body;
  const msg =
    body !== null && typeof body === 'object' ? (body as { message?: unknown }).message : undefined;
  return `HTTP ${r.status}${msg !== undefined && msg !== '' ? `: ${quoted(msg)}` : ''}`;
}

/** The order id a 202 names, if its body is an object with an `orderId` string. */
function orderIdOf(r: PostResult): string | undefined {
  const body = r.body;
  if (body === null || typeof body !== 'object') return undefined;
  const id = (body as { orderId?: unknown }).orderId;
  return typeof id === 'string' ? id : undefined;
}

/** A run id when the user gives none: readable, sortable, unique enough for a lab. */
export function defaultRunId(seed: number, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `load-${stamp}-${(seed >>> 0).toString(36)}`;
}

/** Sends a planned load against any API url; the demo and the benches call this in-process. */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const seed = options.seed ?? freshSeed();
  const runId = options.runId ?? defaultRunId(seed);
  const plan: LoadPlan = planLoad({
    runId,
    orders: options.orders,
    customers: options.customers,
    retryRate: options.retryRate,
    seed,
  });
  const api = new OrdersApi({
    apiUrl: options.apiUrl,
    runId,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
  });
  const jitter = createRng(hash32(`${seed}:backoff`));
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const retryDeadlineMs = options.retryDeadlineMs ?? RETRY_DEADLINE_MS;
  const backoff = options.backoff ?? { baseMs: 50, capMs: 5000 };
  const summary: LoadSummary = {
    runId,
    seed,
    sent: 0,
    refused: 0,
    accepted: 0,
    retries: 0,
    retriesUnanswered: 0,
    retriesNotMade: 0,
    retryMismatches: 0,
    backoffRetries: 0,
    errors: 0,
    givenUp: [],
    errorSamples: [],
    elapsedMs: 0,
    ratePerSec: 0,
    orderIds: [],
  };
  const ids: (string | undefined)[][] = plan.customers.map((l) => l.map(() => undefined));

  const fail = (line: string, count = true) => {
    if (count) summary.errors++;
    if (summary.errorSamples.length < 5) summary.errorSamples.push(line);
  };

  /** Every POST's outcome, across the workers: whether the API has refused all of them long enough. */
  const watch = new RefusalWatch(options.unreachableWindowMs ?? UNREACHABLE_WINDOW_MS);
  /** Aborted when the API is found gone: the waits (backoff, --rate) end at once. */
  const stopped = new AbortController();
  /** A wait of `ms` that ends early when the API is found gone. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopped.signal.removeEventListener('abort', done);
        resolve();
      };
      // A timer holds at most MAX_TIMER_MS; a longer one fires at once (and warns).
      const timer = setTimeout(done, Math.min(ms, MAX_TIMER_MS));
      stopped.signal.addEventListener('abort', done);
    });

  /**
   * One request, tried again with the same Idempotency-Key after a retriable failure, with
   * backoff (or the answer's Retry-After), until `deadlineMs` from its first try or maxAttempts:
   * the last answer, the tries sent, and whether the retries ran out on a retriable failure.
   * A `watched` request (a POST) tells the RefusalWatch each try's outcome, and stops retrying
   * once the API is found gone (`gone`); `reached` says whether any try got past a refused
   * connection (the API may have recorded the order).
   */
  const withRetries = async (
    send: () => Promise<PostResult>,
    deadlineMs: number,
    onRetry: () => void,
    watched = false,
  ): Promise<{
    r: PostResult;
    attempts: number;
    ranOut: boolean;
    gone: boolean;
    reached: boolean;
  }> => {
    const firstAt = Date.now();
    let reached = false;
    for (let attempts = 1; ; attempts++) {
      const id = watched ? watch.start(Date.now()) : undefined;
      const r = await send();
      const refused = refusedConnection(r);
      if (!refused) reached = true;
      if (id !== undefined && watch.end(id, refused, Date.now())) stopped.abort();
      if (!retriable(r)) return { r, attempts, ranOut: false, gone: false, reached };
      if (watched && watch.gone) return { r, attempts, ranOut: false, gone: true, reached };
      // Retry-After is a floor, never faster than the backoff: `Retry-After: 0` on every answer
      // had the order retried with no wait at all (1,271 POSTs in 3 s).
      const wait = Math.max(
        r.retryAfterMs ?? 0,
        backoffMs(attempts - 1, jitter(), backoff.baseMs, backoff.capMs),
      );
      if (attempts >= maxAttempts || Date.now() + wait - firstAt > deadlineMs) {
        return { r, attempts, ranOut: true, gone: false, reached };
      }
      onRetry();
      await pause(wait);
      if (watched && watch.gone) return { r, attempts, ranOut: false, gone: true, reached };
    }
  };
  const postWithRetries = (order: PlannedOrder) =>
    withRetries(
      async () => {
        const r = await api.post(order.body, order.idempotencyKey);
        if (refusedConnection(r)) summary.refused++;
        else summary.sent++;
        return r;
      },
      retryDeadlineMs,
      () => summary.backoffRetries++,
      true,
    );
  /** Where each given-up order is in the plan, to put its id in place when the API has it. */
  const givenUpAt = new Map<GivenUpOrder, { customer: number; index: number }>();
  /** The 'API unreachable' orders no try of which got past a refused connection: not asked. */
  const neverReached = new Set<GivenUpOrder>();

  const start = Date.now();
  const total = plan.totalOrders;
  let started = 0;
  let done = 0;
  let sendingRetries = 0;
  const scheduler = new CustomerScheduler(plan.customers.map((l) => l.length));
  const report = () =>
    options.onProgress?.({
      done,
      total,
      accepted: summary.accepted,
      sendingRetries,
      errors: summary.errors,
      elapsedMs: Date.now() - start,
    });

  const worker = async () => {
    for (;;) {
      const next = await scheduler.take();
      if (!next) return;
      const order = plan.customers[next.customer]![next.index]!;
      const at = slotTime(start, started++, options.rate);
      const wait = at - Date.now();
      if (wait > 0) await pause(wait);
      let accepted = false;
      try {
        if (watch.gone) {
          // The API is gone: not sent, given up with the rest.
          const given: GivenUpOrder = {
            idempotencyKey: order.idempotencyKey,
            attempts: 0,
            why: 'API unreachable',
            last: 'not sent',
          };
          summary.givenUp.push(given);
          neverReached.add(given);
          summary.errors++;
          continue;
        }
        const { r, attempts, ranOut, gone, reached } = await postWithRetries(order);
        const orderId = r.status === 202 ? orderIdOf(r) : undefined;
        if (orderId !== undefined) {
          summary.accepted++;
          accepted = true;
          sendingRetries++;
          ids[next.customer]![next.index] = orderId;
          for (let k = 0; k < order.clientRetries; k++) {
            if (watch.gone) {
              // Found gone before this client retry: not made, the user told (cli.ts).
              summary.retriesNotMade += order.clientRetries - k;
              break;
            }
            summary.retries++;
            const { r: again, gone: goneSince } = await postWithRetries(order);
            if (goneSince) {
              // The API went away while it was tried: the order is accepted, its client retry
              // not answered (an error, as one whose retries ran out), the rest not made.
              fail(
                `client retry of ${order.idempotencyKey}: not answered, the API was unreachable (last ${describe(again)})`,
              );
              summary.retriesUnanswered++;
              summary.retriesNotMade += order.clientRetries - k - 1;
              break;
            }
            if (again.status !== 202 || orderIdOf(again) !== orderId) {
              summary.retryMismatches++;
              fail(`client retry of ${order.idempotencyKey}: ${describe(again)}`);
            }
          }
        } else {
          const given: GivenUpOrder = {
            idempotencyKey: order.idempotencyKey,
            attempts,
            why:
              r.status === 202
                ? 'unreadable answer'
                : gone
                  ? 'API unreachable'
                  : ranOut
                    ? 'retries ran out'
                    : 'refused',
            last: describe(r),
          };
          summary.givenUp.push(given);
          if (gone && !reached) neverReached.add(given);
          givenUpAt.set(given, next);
          // An error until the API is asked after the load (below), as the progress shows it.
          summary.errors++;
          if (given.why === 'refused')
            fail(`${order.idempotencyKey}: refused, ${given.last}`, false);
        }
      } finally {
        done++;
        if (accepted) sendingRetries--;
        scheduler.done(next.customer);
        report();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
    // An order whose retries ran out may have been accepted all the same: a try that timed out,
    // or was answered 500 or 502, may have recorded it. Asked once the load has ended, when no
    // try of it is still running at the API, so the summary (and a soak's check) counts it as
    // the API's record and the report count it: accepted, not missing.
    // One deadline for all the look-ups, and as many at once as the load had requests: each
    // order's own 30 s, one order after another, made an API that stopped answering hold the
    // load 30 s per given-up order after it ended (8 h for 1,000), printing nothing.
    if (watch.gone) {
      const g = watch.gone;
      summary.unreachable = {
        sinceMs: g.since - start,
        atMs: g.at - start,
        refusals: g.refusals,
        windowMs: options.unreachableWindowMs ?? UNREACHABLE_WINDOW_MS,
      };
    }
    // Neither a refused order nor one that never reached the API is asked; none is once the API
    // is gone (every look-up would be refused until the look-ups' deadline).
    const toAsk = summary.givenUp.filter((g) => g.why !== 'refused' && !neverReached.has(g));
    const lookupDeadlineMs = options.lookupDeadlineMs ?? LOOKUP_DEADLINE_MS;
    const lookupsEnd = Date.now() + lookupDeadlineMs;
    const answers: (PostResult | undefined)[] = [];
    let asked = 0;
    const asker = async () => {
      while (asked < toAsk.length) {
        const i = asked++;
        const left = lookupsEnd - Date.now();
        if (left <= 0) continue; // not asked: the look-ups' time has run out
        const { r } = await withRetries(
          () => api.probe(toAsk[i]!.idempotencyKey, Math.min(left, PROBE_TIMEOUT_MS)),
          left,
          () => undefined,
        );
        answers[i] = r;
      }
    };
    await Promise.all(
      Array.from(
        { length: watch.gone ? 0 : Math.min(Math.max(1, options.concurrency), toAsk.length) },
        asker,
      ),
    );
    toAsk.forEach((given, i) => {
      const r = answers[i];
      const at = givenUpAt.get(given)!;
      if (r?.status === 200) {
        given.atApi = 'accepted';
        summary.errors--;
        summary.accepted++;
        ids[at.customer]![at.index] = given.idempotencyKey;
        return;
      }
      given.atApi = r === undefined ? 'not asked' : r.status === 404 ? 'not found' : 'unknown';
      const why =
        r !== undefined
          ? describe(r)
          : watch.gone
            ? 'not asked: the API was unreachable'
            : `not asked: the look-ups' ${lookupDeadlineMs / 1000} s had run out`;
      fail(
        `${given.idempotencyKey}: given up after ${given.attempts} tries (last ${given.last}); ${given.atApi === 'not found' ? 'the API does not have it' : given.atApi === 'not asked' ? `its record was not read (${why})` : `the API's record could not be read (${why})`}`,
        false,
      );
    });
  } finally {
    api.close();
  }
  summary.elapsedMs = Date.now() - start;
  summary.ratePerSec =
    summary.elapsedMs > 0
      ? Math.round((summary.accepted / (summary.elapsedMs / 1000)) * 10) / 10
      : 0;
  summary.orderIds = ids.flat().filter((x): x is string => typeof x === 'string');
  return summary;
}
