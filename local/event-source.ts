import {
  DeleteMessageBatchCommand,
  type DeleteMessageBatchCommandInput,
  type DeleteMessageBatchCommandOutput,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { InvocationResult } from './function-runtime';

/**
 * Lambda's SQS event source mapping, polling over the real SQS protocol (so it drives handlers
 * against any SQS endpoint): each poller long-polls, gathers a batch (batching window on standard
 * queues only: Lambda rejects one on FIFO), invokes, then deletes what succeeded. Pollers =
 * MaximumConcurrency, so at most that many invocations run at once. On a FIFO queue a receive
 * locks the message groups it returns until their messages are deleted or become visible again,
 * so concurrency is also bounded by active groups and a group never has two batches in flight.
 * A failed or timed-out invocation deletes nothing: the whole batch returns after the visibility
 * timeout (and reaches the DLQ after maxReceiveCount), as on AWS.
 */

/**
 * The two SQS calls a mapping makes. Over HTTP with an SDK client for any SQS endpoint; straight
 * into the emulator (inProcessSqsCalls) when the queues live in this same process.
 */
export interface MappingSqsCalls {
  receiveMessage(input: ReceiveMessageCommandInput, signal: AbortSignal): Promise<Message[]>;
  deleteMessageBatch(
    input: DeleteMessageBatchCommandInput,
  ): Promise<Pick<DeleteMessageBatchCommandOutput, 'Successful' | 'Failed'>>;
}

export function sdkSqsCalls(sqs: SQSClient): MappingSqsCalls {
  return {
    async receiveMessage(input, signal) {
      const out = await sqs.send(new ReceiveMessageCommand(input), { abortSignal: signal });
      return out.Messages ?? [];
    },
    deleteMessageBatch: (input) => sqs.send(new DeleteMessageBatchCommand(input)),
  };
}

/** The emulator's in-process entry (local/sqs's SqsEmulator.call). */
export type SqsCall = (
  action: string,
  input: Record<string, unknown>,
  options: {
    host: string;
    clientGone: () => boolean;
    /**
     * Calls `listener` once the caller stops waiting (answers a function that stops listening):
     * a waiting long poll then leaves its queue's waiters at once, as for a closed connection.
     */
    onClientGone?: (listener: () => void) => () => void;
  },
) => Promise<unknown>;

const abortError = () => Object.assign(new Error('Request aborted'), { name: 'AbortError' });

/** An error as the SDK throws it for an SQS refusal: named by AWS's error code. */
function sdkError(err: unknown): Error {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err as Error;
  return Object.assign(new Error((err as Error).message), { name: code });
}

/**
 * The mapping's calls made straight into the emulator of this process. The same actions with
 * the same parameters as over HTTP (validation, long poll, visibility, FIFO group locks, the
 * fault model all live in the emulator's actions, not in HTTP), without what only the transport
 * costs: SigV4 signing, the SDK's middleware, two HTTP parsers and the MD5 checks of a body no
 * network carried. The emulator answers a copy in the wire's JSON shape; binary attribute
 * values are turned into bytes as the SDK's deserializer does.
 */
export function inProcessSqsCalls(call: SqsCall, queueUrl: string): MappingSqsCalls {
  const host = new URL(queueUrl).host;
  const never = () => false;
  const bytes = (b64: unknown) => (typeof b64 === 'string' ? Buffer.from(b64, 'base64') : b64);
  /** One action on a copy of its input; a refusal is thrown as the SDK would throw it. */
  const send = (
    action: string,
    input: object,
    clientGone: () => boolean,
    onClientGone?: (listener: () => void) => () => void,
  ) =>
    call(
      action,
      { ...input },
      { host, clientGone, ...(onClientGone ? { onClientGone } : {}) },
    ).catch((err: unknown) => {
      throw sdkError(err);
    });
  return {
    async receiveMessage(input, signal) {
      // As the SDK does on an abort, the caller is answered at once; the emulator's long poll,
      // told the client is gone, takes nothing more and ends on its own.
      let onAbort: () => void = () => undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError());
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      // The abort is the client going: the emulator's long poll leaves its queue's waiters at
      // once (onClientGone), so no send wakes it rather than a poll that still waits.
      const received = send(
        'ReceiveMessage',
        input,
        () => signal.aborted,
        // Never called at once: a poll checks clientGone before it waits (as a socket already
        // closed emits no close event), and its wait's bookkeeping is not set up until this
        // returns.
        (listener) => {
          signal.addEventListener('abort', listener, { once: true });
          return () => signal.removeEventListener('abort', listener);
        },
      );
      let out: { Messages?: Message[] };
      try {
        out = (await Promise.race([received, aborted])) as { Messages?: Message[] };
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      // An answer over HTTP always comes on a later turn of the event loop; this one can be
      // settled at once (a short poll of an empty queue, a closed emulator), and a poller that
      // loops on empty answers through microtasks alone would starve every timer, socket and
      // stop() of this thread. One turn per receive restores what the transport gave.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const messages = out.Messages ?? [];
      for (const m of messages) {
        for (const a of Object.values(m.MessageAttributes ?? {})) {
          if (a.BinaryValue !== undefined) a.BinaryValue = bytes(a.BinaryValue) as Uint8Array;
          if (a.BinaryListValues)
            a.BinaryListValues = a.BinaryListValues.map((b) => bytes(b) as Uint8Array);
        }
      }
      return messages;
    },
    async deleteMessageBatch(input) {
      return (await send('DeleteMessageBatch', input, never)) as Pick<
        DeleteMessageBatchCommandOutput,
        'Successful' | 'Failed'
      >;
    },
  };
}

export interface EventSourceMappingOptions {
  /** An SDK client for the queue's endpoint, or the calls to make instead (inProcessSqsCalls). */
  sqs: SQSClient | MappingSqsCalls;
  queueUrl: string;
  queueArn: string;
  region: string;
  fifo: boolean;
  /** 1..10,000 (AWS); more than 10 needs a batching window, as on AWS. */
  batchSize: number;
  /** Standard queues only: 0..300 seconds. */
  maxBatchingWindowSeconds: number;
  /** 2..1000 (AWS MaximumConcurrency). */
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
  invoke: (event: SQSEvent) => Promise<InvocationResult>;
  /** Long-poll wait per receive; Lambda uses 20 s. Shorter makes stop() quicker in tests. */
  pollWaitSeconds?: number;
  /**
   * The queue's visibility timeout when the mapping was set up, which its receives get (the
   * mapping sets none of its own): how long to keep a handle when the SQS polled cannot tell how
   * long it holds it (no `holdLeft`: LocalStack, AWS). Absent: 12 hours, the longest SQS holds
   * any receive.
   */
  visibilityTimeoutSeconds?: number;
  /**
   * How much longer (ms, on the `now` clock) the SQS polled holds a receipt handle it answered:
   * 0 once it holds it no more, undefined when it cannot tell. Given by whoever owns that SQS:
   * the local cloud binds its own emulator's `holdLeft` to the mapped queue. Absent, a handle is
   * kept for `visibilityTimeoutSeconds`.
   */
  holdLeft?: (receiptHandle: string) => number | undefined;
  /** The time of the queue's SQS (the local cloud's emulator clock); Date.now by default. */
  now?: () => number;
  log?: (line: string) => void;
}

/** Pause between empty short polls while a batching window is still open. */
const GATHER_RETRY_MS = 250;

/** SQS holds a receive at most 12 hours after it, whatever its visibility changes. */
const MAX_HOLD_MS = 43_200 * 1000;

/** Fewest handles a mapping knows before it looks past the front for ended ones. */
const SWEEP_MIN_HANDLES = 128;

export class EventSourceMappingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventSourceMappingConfigError';
  }
}

export type MappingConfiguration = Pick<
  EventSourceMappingOptions,
  | 'queueArn'
  | 'batchSize'
  | 'maxBatchingWindowSeconds'
  | 'maximumConcurrency'
  | 'reportBatchItemFailures'
> & { enabled: boolean };

export interface MappingStats {
  received: number;
  invocations: number;
  failedInvocations: number;
  deleted: number;
  reportedFailures: number;
  /** Invocations by how many records their event carried (batch size -> invocations). */
  invocationsByRecords: Record<number, number>;
  /**
   * Message groups summed over the invocations: each event's distinct MessageGroupIds (FIFO; 0 for
   * a standard queue's messages, which carry none). Equal to the records, every batch held one
   * message a group.
   */
  messageGroups: number;
  /**
   * Invocations whose batch was taken while every other poller held a batch (the mapping at its
   * maximum concurrency): the poller asked as soon as its own batch was done, so its batch is what
   * the queue could give at that moment, not what one waiting poller took as a message arrived.
   */
  atMaximumConcurrency: number;
}

function validate(o: EventSourceMappingOptions): void {
  if (
    !Number.isInteger(o.maximumConcurrency) ||
    o.maximumConcurrency < 2 ||
    o.maximumConcurrency > 1000
  ) {
    throw new EventSourceMappingConfigError(
      `MaximumConcurrency must be 2..1000, got ${o.maximumConcurrency}`,
    );
  }
  const maxBatch = o.fifo ? 10 : 10_000;
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > maxBatch) {
    throw new EventSourceMappingConfigError(`BatchSize must be 1..${maxBatch}, got ${o.batchSize}`);
  }
  if (o.fifo && o.maxBatchingWindowSeconds > 0) {
    throw new EventSourceMappingConfigError(
      'MaximumBatchingWindowInSeconds is not supported for FIFO queues',
    );
  }
  if (o.maxBatchingWindowSeconds < 0 || o.maxBatchingWindowSeconds > 300) {
    throw new EventSourceMappingConfigError('MaximumBatchingWindowInSeconds must be 0..300');
  }
  // Lambda's poller always long-polls; a wait of 0 would make every receive of an empty queue
  // return at once. ReceiveMessage's own bound is 20 s.
  const wait = o.pollWaitSeconds;
  if (wait !== undefined && (!Number.isInteger(wait) || wait < 1 || wait > 20)) {
    throw new EventSourceMappingConfigError(
      `the mapping's long-poll wait must be an integer from 1 to 20 seconds, got ${wait}`,
    );
  }
  if (o.batchSize > 10 && o.maxBatchingWindowSeconds < 1) {
    throw new EventSourceMappingConfigError(
      'BatchSize above 10 needs a batching window (MaximumBatchingWindowInSeconds) of at least 1',
    );
  }
}

function lambdaMessageAttributes(
  attrs: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  // Object.fromEntries defines each name as an own property, as JSON.parse does for the event
  // Lambda delivers: an assignment would turn an attribute named `__proto__` (a valid name) into
  // the map's prototype and drop it.
  // An entry without a value is skipped rather than thrown on (a throw here would leave the
  // message stuck in the queue): the SDK's JSON deserializer (@smithy/core 3.41) reads an
  // attribute named `__proto__` back as undefined, so that one cannot reach the event.
  return Object.fromEntries(
    Object.entries(attrs ?? {})
      .filter((entry): entry is [string, MessageAttributeValue] => entry[1] !== undefined)
      .map(([name, a]) => [
        name,
        {
          ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
          ...(a.BinaryValue !== undefined
            ? { binaryValue: Buffer.from(a.BinaryValue).toString('base64') }
            : {}),
          stringListValues: a.StringListValues ?? [],
          binaryListValues: (a.BinaryListValues ?? []).map((b) =>
            Buffer.from(b).toString('base64'),
          ),
          dataType: a.DataType ?? 'String',
        },
      ]),
  );
}

/** The record Lambda puts in the event for one received message. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? '',
    SenderId: a.SenderId ?? '000000000000',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
    ...(a.AWSTraceHeader !== undefined ? { AWSTraceHeader: a.AWSTraceHeader } : {}),
    ...(a.SequenceNumber !== undefined ? { SequenceNumber: a.SequenceNumber } : {}),
    ...(a.MessageGroupId !== undefined ? { MessageGroupId: a.MessageGroupId } : {}),
    ...(a.MessageDeduplicationId !== undefined
      ? { MessageDeduplicationId: a.MessageDeduplicationId }
      : {}),
  };
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes: lambdaMessageAttributes(m.MessageAttributes),
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which messages to delete after an invocation. With ReportBatchItemFailures, everything not
 * reported failed; a response Lambda cannot use (an unknown or empty itemIdentifier) fails the
 * whole batch, as Lambda does. Without it, all or nothing.
 */
export function messagesToDelete(
  batch: readonly Message[],
  result: InvocationResult,
  reportBatchItemFailures: boolean,
): { toDelete: Message[]; failedIds: string[] } {
  if (!result.ok) return { toDelete: [], failedIds: batch.map((m) => m.MessageId ?? '') };
  if (!reportBatchItemFailures) return { toDelete: [...batch], failedIds: [] };
  const response = result.result as Partial<SQSBatchResponse> | null;
  const failures = response?.batchItemFailures;
  if (failures === undefined || failures === null) return { toDelete: [...batch], failedIds: [] };
  if (!Array.isArray(failures))
    return { toDelete: [], failedIds: batch.map((m) => m.MessageId ?? '') };
  const ids = new Set(batch.map((m) => m.MessageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown })?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) {
      return { toDelete: [], failedIds: batch.map((m) => m.MessageId ?? '') };
    }
    failed.add(id);
  }
  return {
    toDelete: batch.filter((m) => !failed.has(m.MessageId ?? '')),
    failedIds: [...failed],
  };
}

export class EventSourceMapping {
  readonly stats: MappingStats = {
    received: 0,
    invocations: 0,
    failedInvocations: 0,
    deleted: 0,
    reportedFailures: 0,
    invocationsByRecords: {},
    messageGroups: 0,
    atMaximumConcurrency: 0,
  };
  private running = false;
  private readonly abort = new AbortController();
  private pollers: Promise<void>[] = [];
  private inFlight = 0;
  /**
   * Receipt handles this mapping has received and SQS may still hold, each with the time (on
   * the mapping's clock, `now`) its hold ends: a batch being processed, or one left for its
   * visibility timeout after a failure. A handle SQS holds that is not here is a batch on its way
   * to a poller (answered, not yet read). A handle leaves when its message is deleted, and once
   * its visibility timeout has passed: SQS holds it no longer, whether the message is received
   * again (a new handle), dead-lettered or expired. Failed batches kept theirs for good, which
   * grew without end over a long run.
   *
   * The end is the one SQS has for that receive, when the SQS polled can tell it (`holdLeft`,
   * which the local cloud gives for its own emulator, polled in process or over HTTP): a receive is held for the request's
   * VisibilityTimeout, "If not specified, the default visibility timeout for the queue is used"
   * (ReceiveMessage, API reference), the queue's as it is at that receive, so after a
   * SetQueueAttributes the next receives are held for the new one; and a ChangeMessageVisibility
   * moves the end of that one receive ("the 10 seconds begin to count from the time that you make
   * the ChangeMessageVisibility call", API reference). So the end is read at each receive, and
   * read again when it is reached, before the handle is let go. The deploy-time
   * `visibilityTimeoutSeconds` had been the only end: a queue whose timeout was raised, or a hold
   * a ChangeMessageVisibility lengthened, had its handle forgotten while SQS still held it, and
   * the local cloud counted that batch as one no mapping had read. Against an SQS that cannot
   * tell (no `holdLeft`), the deploy-time timeout (or 12 hours) it stays.
   */
  readonly knownReceipts = new Map<string, number>();
  /** Size of knownReceipts above which forgetExpired looks at every handle (see there). */
  private sweepAbove = SWEEP_MIN_HANDLES;
  private readonly holdMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly sqs: MappingSqsCalls;

  constructor(private readonly o: EventSourceMappingOptions) {
    validate(o);
    this.log = o.log ?? (() => undefined);
    this.sqs = 'send' in o.sqs ? sdkSqsCalls(o.sqs) : o.sqs;
    this.holdMs =
      o.visibilityTimeoutSeconds === undefined
        ? MAX_HOLD_MS
        : Math.min(o.visibilityTimeoutSeconds * 1000, MAX_HOLD_MS);
    this.now = o.now ?? Date.now;
  }

  get invocationsInFlight(): number {
    return this.inFlight;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** What Lambda's GetEventSourceMapping tells: the queue, the batching settings, the state. */
  configuration(): MappingConfiguration {
    const { queueArn, batchSize, maxBatchingWindowSeconds, maximumConcurrency } = this.o;
    return {
      queueArn,
      batchSize,
      maxBatchingWindowSeconds,
      maximumConcurrency,
      reportBatchItemFailures: this.o.reportBatchItemFailures,
      enabled: this.running,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.maximumConcurrency; i++) this.pollers.push(this.poll(i));
  }

  /** Stops polling, waits up to graceMs for in-flight invocations and their deletes. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.race([
      Promise.allSettled(this.pollers),
      new Promise((r) => setTimeout(r, graceMs).unref()),
    ]);
    this.pollers = [];
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const messages = await this.sqs.receiveMessage(
      {
        QueueUrl: this.o.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        // The deprecated name too: older SQS servers (and LocalStack releases) only read this one.
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      },
      this.abort.signal,
    );
    const now = this.now();
    this.forgetExpired(now);
    // Counted from after the answer, so never before SQS's own deadline for the handle.
    for (const m of messages) {
      if (m.ReceiptHandle)
        this.knownReceipts.set(m.ReceiptHandle, this.holdEnd(m.ReceiptHandle, now));
    }
    return messages;
  }

  /**
   * When SQS's hold of a handle ends, on the mapping's clock: as the SQS that answered it says
   * (what is left of the receive's visibility timeout, counted from now), else the deploy-time
   * visibility timeout from now.
   */
  private holdEnd(handle: string, now: number): number {
    const left = this.o.holdLeft?.(handle);
    return now + (left === undefined ? this.holdMs : Math.min(left, MAX_HOLD_MS));
  }

  /**
   * Forgets the handles whose hold has ended. Handles are added in the order they are received,
   * mostly with growing ends, so the ended ones at the front are looked at on every receive. A
   * handle whose end was reached is asked about once more: still held (its hold was lengthened
   * since), it is kept until the new end, at the back.
   *
   * Ends are not in the order of receipt (a longer timeout, a lengthened hold), and the walk from
   * the front stops at the first handle still held: one SQS holds for 12 hours kept every handle
   * received after it, ended or not, until its own end (a flood of failed batches behind it grew
   * the map by a batch per receive). So once the map has doubled since every handle was last
   * looked at (and holds more than SWEEP_MIN_HANDLES), all the ended ones are let go: the map
   * stays within twice the handles whose hold has not ended, at a constant cost per handle
   * received.
   */
  private forgetExpired(now: number): void {
    for (const [handle, until] of this.knownReceipts) {
      if (until > now) break;
      this.forgetUnlessHeld(handle, now);
    }
    if (this.knownReceipts.size <= this.sweepAbove) return;
    for (const [handle, until] of this.knownReceipts) {
      if (until <= now) this.forgetUnlessHeld(handle, now);
    }
    this.sweepAbove = Math.max(SWEEP_MIN_HANDLES, 2 * this.knownReceipts.size);
  }

  /** Lets go of a handle whose end was reached, unless SQS says it still holds it. */
  private forgetUnlessHeld(handle: string, now: number): void {
    this.knownReceipts.delete(handle);
    const left = this.o.holdLeft?.(handle);
    // Re-added at the end with an end after now: a walk over the map meets it there and passes.
    if (left !== undefined && left > 0) {
      this.knownReceipts.set(handle, now + Math.min(left, MAX_HOLD_MS));
    }
  }

  private async gather(): Promise<Message[]> {
    const wait = this.o.pollWaitSeconds ?? 20;
    const batch = await this.receive(this.o.batchSize, wait);
    if (batch.length === 0) return batch;
    // From here the messages are in flight on SQS and held here: counted as in flight while the
    // batching window fills the batch, not only once the function runs (poll() releases it).
    if (this.inFlight >= this.o.maximumConcurrency - 1) this.stats.atMaximumConcurrency++;
    this.inFlight++;
    if (this.o.fifo || this.o.maxBatchingWindowSeconds <= 0) return batch;
    const deadline = Date.now() + this.o.maxBatchingWindowSeconds * 1000;
    while (this.running && batch.length < this.o.batchSize) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let more: Message[];
      try {
        more = await this.receive(
          this.o.batchSize - batch.length,
          Math.min(wait, Math.floor(remaining / 1000)),
        );
      } catch (err) {
        // The messages already received are invoked now rather than left to time out.
        if (this.running) this.log(`receive failed while batching: ${(err as Error).message}`);
        break;
      }
      batch.push(...more);
      // Under a second left, receives are short polls: an empty one waits a quarter of a second
      // (or what is left) before the next, so a quiet queue costs a few receives per window,
      // not one every few milliseconds.
      if (more.length === 0 && remaining < 1000) {
        await new Promise((r) => setTimeout(r, Math.min(remaining, GATHER_RETRY_MS)));
      }
    }
    return batch;
  }

  private async poll(index: number): Promise<void> {
    let backoffMs = 100;
    while (this.running) {
      let batch: Message[];
      try {
        batch = await this.gather();
        backoffMs = 100;
      } catch (err) {
        if (!this.running) return;
        this.log(
          `poller ${index}: receive failed: ${(err as Error).name}: ${(err as Error).message}`,
        );
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5000);
        continue;
      }
      if (batch.length === 0) continue;
      try {
        await this.process(batch);
      } finally {
        this.inFlight--;
      }
    }
  }

  private async process(batch: Message[]): Promise<void> {
    this.stats.received += batch.length;
    this.stats.invocations++;
    const sizes = this.stats.invocationsByRecords;
    sizes[batch.length] = (sizes[batch.length] ?? 0) + 1;
    const groups = new Set<string>();
    for (const m of batch) {
      const g = m.Attributes?.MessageGroupId;
      if (g !== undefined) groups.add(g);
    }
    this.stats.messageGroups += groups.size;
    const event: SQSEvent = {
      Records: batch.map((m) => toSqsRecord(m, this.o.queueArn, this.o.region)),
    };
    let result: InvocationResult;
    try {
      result = await this.o.invoke(event);
    } catch (err) {
      result = {
        ok: false,
        timedOut: false,
        durationMs: 0,
        error: { errorType: (err as Error).name, errorMessage: (err as Error).message },
      };
    }
    if (!result.ok) {
      this.stats.failedInvocations++;
      this.log(
        `invocation ${result.timedOut ? 'timed out' : 'failed'} (${result.error.errorType}: ${result.error.errorMessage}); ${batch.length} messages left for the visibility timeout`,
      );
    }
    const { toDelete, failedIds } = messagesToDelete(batch, result, this.o.reportBatchItemFailures);
    if (result.ok) this.stats.reportedFailures += failedIds.length;
    await this.deleteMessages(toDelete);
  }

  private async deleteMessages(messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        const out = await this.sqs.deleteMessageBatch({
          QueueUrl: this.o.queueUrl,
          Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle ?? '' })),
        });
        this.stats.deleted += out.Successful?.length ?? 0;
        for (const ok of out.Successful ?? []) {
          const handle = chunk[Number(ok.Id)]?.ReceiptHandle;
          if (handle) this.knownReceipts.delete(handle);
        }
        for (const f of out.Failed ?? []) this.log(`delete failed: ${f.Code}: ${f.Message}`);
      } catch (err) {
        // A delete that fails leaves the message to come back after the visibility timeout: a
        // duplicate delivery, which the consumer's idempotency absorbs, exactly as on AWS.
        this.log(`delete failed: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  }
}
