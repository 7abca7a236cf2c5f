import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CallDeadlinePort } from '../domain/ports';

/**
 * A cut on the consumer's DynamoDB calls, set from the invocation's deadline (domain/
 * record-handling.ts sets it: the records' calls end 1 s before the deadline, the end write just
 * before it), so that a stall inside a record, or of the end write, ends the invocation with its
 * partial batch response (or its error) before Lambda ends it at its timeout.
 *
 * It is a middleware on each client's stack (the SDK's documented extension point: a document
 * client shares its client's stack, so Powertools' client and the layer's document client made
 * from it take it once), in the `finalizeRequest` step below the retry middleware, so it runs for
 * every try: a try still unanswered at the cut is given up with an InvocationDeadlineError, and a
 * try that would start after it is not sent. That error is no transient one to the SDK's retry
 * strategy (not a TimeoutError, no status code), so the call ends at once, with no try more.
 * The try given up on is not aborted: its answer is dropped, and its connection ends by the
 * client's own request timeout (1 s). A write in it may still commit, as a try that ran out of
 * its request timeout may (docs/architecture.md, "A try that ran out may have committed").
 *
 * One write of a record is not a record's call like the others: the one that completes a record
 * whose effect has committed (Powertools' COMPLETED update, sent per record with the effect guard
 * off; adapters/idempotency-store.ts runs it in `completing`). Cutting it at the records' cut
 * leaves a committed effect's record IN_PROGRESS, and its redelivery applies it again, where the
 * update (milliseconds) would have gone through: so it is cut at the end write's cut instead
 * (`cutIn`'s second argument), the latest a DynamoDB call of the invocation may run. What that
 * costs when it does stall: the end write after it has the less room, and may fail the
 * invocation, so every record of the batch comes back; the records already written COMPLETED
 * answer their redeliveries from the record, with no second apply.
 */

/**
 * The longest delay Node's timers count (2^31 - 1 ms, about 24.8 days): a longer one is taken as
 * 1 ms. A cut further away than that is none a try can reach (Lambda's timeout is 900 s at most).
 */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A DynamoDB call, or a wait inside a record (`within`), given up at the cut the invocation's
 * deadline sets. `what` says which, so a failure record and its log line tell a stalled call from
 * a copy that waited out its order (both count as running out of time).
 */
export class InvocationDeadlineError extends Error {
  constructor(what = 'DynamoDB call') {
    super(`${what} given up: too close to the invocation's deadline`);
    this.name = 'InvocationDeadlineError';
  }
}

/**
 * `run()`, given up with an InvocationDeadlineError naming `what` once `leftMs` have passed (no
 * cut when that is further away than a timer counts). A timer fires after the promise jobs queued
 * before it, so a `run()` that has already ended by then wins.
 */
async function beforeCut<T>(leftMs: number, run: () => Promise<T>, what?: string): Promise<T> {
  if (leftMs > MAX_TIMER_MS) return run();
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationDeadlineError(what)), leftMs);
  });
  try {
    return await Promise.race([run(), cut]);
  } finally {
    clearTimeout(timer);
  }
}

export class CallDeadline implements CallDeadlinePort {
  /** The cut on `now`'s clock. */
  #cutAt: number | undefined;
  /** The cut of a write that completes a committed effect's record (`completing`), if later. */
  #completingAt: number | undefined;
  /** Marks the calls `completing` runs. */
  readonly #completing = new AsyncLocalStorage<true>();
  /** The tally of tries sent by the work `counting` runs (a record's). */
  readonly #tally = new AsyncLocalStorage<{ sent: number }>();

  /** `now`: a monotonic clock in ms (performance.now), so a step of the wall clock moves no cut. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  cutIn(ms: number | undefined, completingMs?: number): void {
    const now = this.now();
    this.#cutAt = ms === undefined ? undefined : now + ms;
    this.#completingAt =
      ms === undefined || completingMs === undefined ? undefined : now + Math.max(ms, completingMs);
  }

  /**
   * Milliseconds until the cut (on the monotonic clock; 0 or less once it has passed), or
   * undefined when there is none. A record that starts at or past it can send no call.
   */
  untilCut(): number | undefined {
    return this.#cutAt === undefined ? undefined : this.#cutAt - this.now();
  }

  /**
   * Runs `work` (one record), adding to `tally.sent` each try its DynamoDB calls send: a record
   * that sent none never reached DynamoDB (a try at or past the cut is not sent).
   */
  counting<T>(tally: { sent: number }, work: () => Promise<T>): Promise<T> {
    return this.#tally.run(tally, work);
  }

  /**
   * Runs `work`, whose DynamoDB calls complete a record whose effect has committed, under the
   * completing cut `cutIn` was given (the end write's), or the cut when it was given none.
   */
  completing<T>(work: () => Promise<T>): Promise<T> {
    return this.#completing.run(true, work);
  }

  /**
   * `waiting`, given up with an InvocationDeadlineError naming `what` at the cut (a wait inside a
   * record that no call of its own bounds: adapters/idempotency-store.ts, a copy waiting for its
   * order's put). A wait that has already ended by then is answered, not given up: unlike a call,
   * it sends nothing, so there is nothing to hold back at the cut.
   */
  async within<T>(waiting: Promise<T>, what = 'wait'): Promise<T> {
    const cutAt = this.#cutAt;
    if (cutAt === undefined) return waiting;
    return beforeCut(Math.max(0, cutAt - this.now()), () => waiting, what);
  }

  /** Puts the cut on a client's middleware stack (and so on every document client made from it). */
  attach(client: Pick<DynamoDBClient, 'middlewareStack'>): void {
    client.middlewareStack.add(
      (next) => async (args) => {
        const cutAt =
          this.#completing.getStore() === true ? (this.#completingAt ?? this.#cutAt) : this.#cutAt;
        const tally = this.#tally.getStore();
        if (cutAt === undefined) {
          if (tally) tally.sent++;
          return next(args);
        }
        const leftMs = cutAt - this.now();
        // A try that would start at or after the cut is not sent.
        if (leftMs <= 0) throw new InvocationDeadlineError();
        if (tally) tally.sent++;
        return beforeCut(leftMs, () => next(args));
      },
      { step: 'finalizeRequest', priority: 'low', name: 'invocationDeadline', override: true },
    );
  }
}
