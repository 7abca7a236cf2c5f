import type { PipelineConfig } from '../../../../shared/src/config/pipeline';
import { isLedgerTime, shown } from '../../../../shared/src/fifo-redelivery';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import {
  acceptedById,
  analyzeQueue,
  LedgerDataError,
  producerIdsById,
  type QueueAnalysis,
  type QueueMetrics,
  type RunLedger,
  stampedDeadline,
} from './metrics';

export type ReportTarget = 'local' | 'localstack' | 'aws';

/**
 * The note on the advances of the functions' clock the run's runner wrote to the ledger
 * (ClockSkipRecord), or undefined when it wrote none. Each item must hold a time (`at`) and a
 * whole number of ms above 0 (`ms`), else LedgerDataError names it: a skip read as 0 ms, or one
 * at no time, would misstate the run's clock. The report reads every stamp as written; the note
 * says how far the clock was moved, and when first, so latencies across a skip and an outcome
 * stamped past its invocation's deadline by about that much are read for what they are.
 */
export function clockSkipNote(ledger: RunLedger): string | undefined {
  const skips = ledger.clockSkips ?? [];
  if (skips.length === 0) return undefined;
  let totalMs = 0;
  let first = Number.POSITIVE_INFINITY;
  for (const s of skips) {
    const at: unknown = s.at;
    const ms: unknown = s.ms;
    if (!isLedgerTime(at))
      throw new LedgerDataError(s, `has at ${shown(at)}, not a time in epoch ms`);
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1)
      throw new LedgerDataError(s, `has ms ${shown(ms)}, not a whole number of ms above 0`);
    totalMs += ms;
    first = Math.min(first, at);
  }
  const n = skips.length;
  return `the run's runner advanced the functions' clock ${n} time${n === 1 ? '' : 's'}, ${(totalMs / 1000).toFixed(1)} s in all, the first at ${new Date(first).toISOString()} on that clock (a local run skipping visibility timeouts once nothing was in flight; the ledger's CLOCKSKIP items): every time the consumers stamped after a skip is that much later than the wall clock, so a latency across one includes it, as a retry's wait for its visibility timeout would, and an invocation that ran across one has its outcome stamp moved and not its deadline; the report reads every stamp as written`;
}

/** The settings that shape the numbers, so a report read later says what produced it. */
export interface ReportConfig {
  queues: Record<
    QueueKind,
    {
      queueName: string;
      batchSize: number;
      maximumConcurrency: number;
      processing: string;
      /** The one the numbers used: the queue's RedrivePolicy's where it was read, see below. */
      maxReceiveCount: number;
      /**
       * Where maxReceiveCount came from: `queue`, its RedrivePolicy as deployed (GetQueueAttributes);
       * `config`, the report's config (the repository's for the CLI), because the queue has no
       * RedrivePolicy, reading it was refused (a line in `notes` says which), or the caller read
       * none (a report built from a ledger alone).
       */
      maxReceiveCountFrom: 'queue' | 'config';
      /** The DLQ the queue's RedrivePolicy names, where it was read. */
      deadLetterTargetArn?: string;
      /**
       * The one the queue was deployed with where it was read (GetQueueAttributes
       * VisibilityTimeout), the config's otherwise: how long SQS hides a received message.
       */
      visibilityTimeoutSeconds: number;
      /** Where visibilityTimeoutSeconds came from, as for maxReceiveCount (`notes` says why). */
      visibilityTimeoutSecondsFrom: 'queue' | 'config';
      /**
       * The consumer's function timeout: an attempt pending this long never finished. From the
       * ledger, the longest any invocation had from its receive to its deadline (the consumer
       * stamps each receive with its invocation's deadline: DeliveryRecord.deadlineAt), in whole
       * seconds up; from the config, the config's.
       */
      functionTimeoutSeconds: number;
      /**
       * Where functionTimeoutSeconds came from: `ledger`, the deadlines the consumers' invocations
       * were given (the function as deployed), by which each stamped attempt is judged; `config`,
       * the report's config (the repository's for the CLI), because no receive of the queue in the
       * ledger carries a deadline (a ledger older than the stamp, or no receives). Receives
       * without one in a ledger that has some are judged by the config's, with a note.
       */
      functionTimeoutSecondsFrom: 'ledger' | 'config';
    }
  >;
}

/** The JSON report (docs/report.md); its field names are a contract. */
export interface Report {
  runId: string;
  target: ReportTarget;
  generatedAt: string;
  config: ReportConfig;
  accepted: number;
  queues: Record<QueueKind, QueueMetrics>;
  /**
   * Where the report had to read something the weaker way, one sentence each (printed under the
   * table): messages whose receives had no usable receive count, and so on. Empty otherwise.
   */
  notes: string[];
}

/** The report plus what the charts draw (not part of the JSON contract). */
export interface ReportData {
  report: Report;
  /** The evidence the numbers came from, for checks that want to look past the numbers. */
  ledger: RunLedger;
  analysis: Record<QueueKind, QueueAnalysis>;
  /**
   * Requests beyond the first for the same order (client retries with the same Idempotency-Key),
   * as the producer counts them: every one whose key named this order and whose body matched,
   * whatever it was answered. Each was answered from the order's record, or sent again only what
   * the producer did not know was sent, or was answered 409 (another request may still be
   * sending the order), and counts once however it was answered.
   */
  clientRetries: number;
  /**
   * Deliveries the consumer reported as failed, per queue (what FIFO's later orders waited
   * behind): failed attempts, and the receives of an invocation whose end write failed
   * (FailureRecord.endGivenUp: the batch came back whole), not the not-attempted failures of
   * records dead-lettered unrun behind one (FailureRecord.notAttempted).
   */
  failedDeliveries: Record<QueueKind, number>;
  /**
   * Suppressed deliveries per queue by what stopped them: Powertools' idempotency record, or the
   * effect's own conditional write (the record had expired or was left in progress by a crash).
   */
  suppressedBy: Record<QueueKind, { record: number; effect: number }>;
}

/**
 * What a source queue's RedrivePolicy says, as the report uses it: its maxReceiveCount and DLQ,
 * or why the report falls back to the maxReceiveCount of its config (the repository's, for the
 * CLI): the queue has no RedrivePolicy, or reading its attributes was refused.
 */
export type RedriveRead =
  | { from: 'queue'; maxReceiveCount: number; deadLetterTargetArn: string }
  | { from: 'config'; reason: string };

/** What each source queue's RedrivePolicy said (generate.ts reads it); absent: none read. */
export type DeployedRedrive = Partial<Record<QueueKind, RedriveRead>>;

/**
 * A source queue's VisibilityTimeout as the report uses it: read from the queue, or why the
 * report falls back to its config's (the attribute missing, or reading it refused).
 */
export type VisibilityRead =
  | { from: 'queue'; seconds: number }
  | { from: 'config'; reason: string };

/** What each source queue's VisibilityTimeout said (generate.ts reads it); absent: none read. */
export type DeployedVisibility = Partial<Record<QueueKind, VisibilityRead>>;

/**
 * What a queue's receives in the ledger say of the function timeout their invocations ran with:
 * the longest time from a receive to its invocation's deadline, in whole seconds up (the
 * invocation began a moment before its receive time was taken, so the time left is a little
 * under the timeout), and how many receives carry no deadline.
 */
export interface LedgerTimeout {
  /** Absent when no receive of the queue carries a deadline. */
  seconds?: number;
  stamped: number;
  unstamped: number;
}

export function ledgerTimeout(ledger: RunLedger, queue: QueueKind): LedgerTimeout {
  let longestMs: number | undefined;
  let stamped = 0;
  let unstamped = 0;
  for (const d of ledger.deliveries) {
    if (d.queue !== queue) continue;
    const deadline = stampedDeadline(d);
    if (deadline === undefined) {
      unstamped++;
      continue;
    }
    stamped++;
    const ms = deadline - d.receivedAt;
    longestMs = longestMs === undefined ? ms : Math.max(longestMs, ms);
  }
  return {
    ...(longestMs !== undefined ? { seconds: Math.max(0, Math.ceil(longestMs / 1000)) } : {}),
    stamped,
    unstamped,
  };
}

export function reportConfig(
  config: PipelineConfig,
  redrive: DeployedRedrive = {},
  visibility: DeployedVisibility = {},
  timeouts: Partial<Record<QueueKind, LedgerTimeout>> = {},
): ReportConfig {
  const q = (kind: QueueKind) => {
    const read = redrive[kind];
    const seen = visibility[kind];
    const ran = timeouts[kind]?.seconds;
    return {
      queueName: config.queues[kind].name,
      batchSize: config.consumers[kind].batchSize,
      maximumConcurrency: config.consumers[kind].maximumConcurrency,
      processing: config.consumers[kind].processing,
      maxReceiveCount:
        read?.from === 'queue' ? read.maxReceiveCount : config.queues[kind].dlq.maxReceiveCount,
      maxReceiveCountFrom: read?.from ?? 'config',
      ...(read?.from === 'queue' ? { deadLetterTargetArn: read.deadLetterTargetArn } : {}),
      visibilityTimeoutSeconds:
        seen?.from === 'queue' ? seen.seconds : config.queues[kind].visibilityTimeoutSeconds,
      visibilityTimeoutSecondsFrom: seen?.from ?? 'config',
      functionTimeoutSeconds: ran ?? config.consumers[kind].timeoutSeconds,
      functionTimeoutSecondsFrom: ran !== undefined ? ('ledger' as const) : ('config' as const),
    };
  };
  return { queues: { fifo: q('fifo'), standard: q('standard') } };
}

/**
 * The notes on where each queue's maxReceiveCount and visibility timeout came from, when it is
 * not simply the queue's, and on a function timeout the consumers ran with other than the
 * config's.
 */
function redriveNotes(
  config: PipelineConfig,
  redrive: DeployedRedrive,
  visibility: DeployedVisibility,
  ledger: RunLedger,
  used: ReportConfig,
  analysis: Record<QueueKind, QueueAnalysis>,
  timeouts: Record<QueueKind, LedgerTimeout>,
): string[] {
  const { dlq } = ledger;
  const notes: string[] = [];
  for (const q of ['fifo', 'standard'] as const) {
    const read = redrive[q];
    const configured = config.queues[q].dlq.maxReceiveCount;
    if (read?.from === 'config') {
      notes.push(
        `${q}: maxReceiveCount ${configured} is the report's config, not the queue's: ${read.reason}`,
      );
    } else if (read?.from === 'queue' && read.maxReceiveCount !== configured) {
      notes.push(
        `${q}: the queue's RedrivePolicy says maxReceiveCount ${read.maxReceiveCount}, the report's config ${configured}: the report uses the queue's`,
      );
    }
    const timeout = visibility[q];
    const configuredVisibility = config.queues[q].visibilityTimeoutSeconds;
    if (timeout?.from === 'config') {
      notes.push(
        `${q}: visibility timeout ${configuredVisibility} s is the report's config, not the queue's: ${timeout.reason}`,
      );
    } else if (timeout?.from === 'queue' && timeout.seconds !== configuredVisibility) {
      notes.push(
        `${q}: the queue's VisibilityTimeout is ${timeout.seconds} s, the report's config ${configuredVisibility} s: the report uses the queue's`,
      );
    }
    const ran = timeouts[q];
    const configuredTimeout = config.consumers[q].timeoutSeconds;
    if (ran.seconds !== undefined && ran.seconds !== configuredTimeout) {
      notes.push(
        `${q}: the consumer's invocations had a ${ran.seconds} s function timeout (their deadlines in the ledger), the report's config ${configuredTimeout} s: the report judges each attempt by its invocation's deadline`,
      );
    }
    if (ran.stamped > 0 && ran.unstamped > 0) {
      notes.push(
        `${q}: ${ran.unstamped} receive${ran.unstamped === 1 ? '' : 's'} in the ledger carr${ran.unstamped === 1 ? 'ies' : 'y'} no invocation deadline (written before the consumer stamped one): judged by the report's config's ${configuredTimeout} s function timeout`,
      );
    }
    // The report reads the DLQ its target names (the stack's outputs, the config's name); SQS
    // moves messages to the one the policy names, which may be another queue, in another
    // account. Read from the wrong one, an order SQS dead-lettered counts as lost.
    const readArn = dlq?.[q]?.queueArn;
    if (read?.from === 'queue' && readArn !== undefined && readArn !== read.deadLetterTargetArn) {
      notes.push(
        `${q}: the queue's RedrivePolicy moves messages to ${read.deadLetterTargetArn}, not to the DLQ the report read (${readArn}): in DLQ, applied in DLQ, the DLQ's messages and lost count without what SQS moved there`,
      );
    }
    // SQS moves a message instead of handing it out past maxReceiveCount, so a receive above the
    // limit used says it did not hold for the whole run: the policy read at the end (or the
    // config's, with none) is not the one every receive met.
    const max = used.queues[q].maxReceiveCount;
    const seen = analysis[q].highestReceiveCount;
    if (seen > max) {
      notes.push(
        `${q}: the ledger holds a receive #${seen}, above the maxReceiveCount ${max} the report used: SQS did not move messages to the DLQ at ${max} throughout the run (its RedrivePolicy was changed or removed during it, or the queue had none); a failed receive at ${max} still counts as a dead letter`,
      );
    }
  }
  return notes;
}

function suppressedBy(ledger: RunLedger): ReportData['suppressedBy'] {
  const out = { fifo: { record: 0, effect: 0 }, standard: { record: 0, effect: 0 } };
  for (const d of ledger.deliveries) {
    if (d.outcome !== 'suppressed') continue;
    // Deliveries written before the effect guard existed name nothing: the record stopped them.
    out[d.queue][d.suppressedBy === 'effect' ? 'effect' : 'record']++;
  }
  return out;
}

export function buildReport(input: {
  runId: string;
  target: ReportTarget;
  config: PipelineConfig;
  ledger: RunLedger;
  now?: Date;
  /**
   * Each source queue's RedrivePolicy as deployed (generateReport reads it): its maxReceiveCount
   * replaces the config's. Absent, or a queue missing: the config's, with no note.
   */
  redrive?: DeployedRedrive;
  /**
   * Each source queue's VisibilityTimeout as deployed (generateReport reads it with the
   * RedrivePolicy): it replaces the config's in `config`. Absent: the config's, with no note.
   */
  visibility?: DeployedVisibility;
}): ReportData {
  const accepted = acceptedById(input.ledger);
  const producerIds = producerIdsById(input.ledger);
  // The consumers stamp each receive with its invocation's deadline: the function timeout as
  // deployed, which the report shows and judges stamped attempts by. The config's is only for
  // receives without one (ledgers older than the stamp).
  const timeouts = {
    fifo: ledgerTimeout(input.ledger, 'fifo'),
    standard: ledgerTimeout(input.ledger, 'standard'),
  };
  const config = reportConfig(input.config, input.redrive, input.visibility, timeouts);
  const options = (q: QueueKind) => ({
    attemptTimeoutMs: input.config.consumers[q].timeoutSeconds * 1000,
    maxReceiveCount: config.queues[q].maxReceiveCount,
    finalByQueue: config.queues[q].maxReceiveCountFrom === 'queue',
    visibilityMs: config.queues[q].visibilityTimeoutSeconds * 1000,
  });
  const fifo = analyzeQueue(input.ledger, 'fifo', accepted, options('fifo'), producerIds);
  const standard = analyzeQueue(
    input.ledger,
    'standard',
    accepted,
    options('standard'),
    producerIds,
  );
  const notes = redriveNotes(
    input.config,
    input.redrive ?? {},
    input.visibility ?? {},
    input.ledger,
    config,
    {
      fifo,
      standard,
    },
    timeouts,
  );
  for (const [q, a] of [
    ['fifo', fifo],
    ['standard', standard],
  ] as const) {
    // A dead letter the report did not read counts as gone from the DLQ (metrics.ts,
    // DuplicateCauses.dlqRedrive), so with some of the DLQ unread a re-send after it may have
    // been counted as its redrive.
    const { dlqUnread, duplicateCauses } = a.metrics;
    if (dlqUnread > 0 && duplicateCauses.dlqRedrive > 0) {
      const r = duplicateCauses.dlqRedrive;
      notes.push(
        `${q}: ${dlqUnread} DLQ message${dlqUnread === 1 ? ' was' : 's were'} not read, so the ${r} DLQ redrive${r === 1 ? '' : 's'} may include producer re-sends: a dead letter not read counts as gone from the DLQ, and a message of its order the producer sent but could not record (its answer lost) then reads as its redrive`,
      );
    }
    // An order not found in the DLQ counts as lost; with some of the DLQ unread it may be there.
    const { lost } = a.metrics;
    if (dlqUnread > 0 && lost > 0) {
      notes.push(
        `${q}: ${lost} order${lost === 1 ? ' counts' : 's count'} as lost while ${dlqUnread} DLQ message${dlqUnread === 1 ? ' was' : 's were'} not read (SQS's approximate depth less what the report read): ${lost === 1 ? 'it' : 'they'} may be in the DLQ; run the report again later`,
      );
    }
    const n = a.duplicates.timeOrderedMessages;
    if (n > 0) {
      notes.push(
        `${q}: ${n} message${n === 1 ? '' : 's'} received more than once had no usable ApproximateReceiveCount in the ledger; their retries and queue copies were told apart by the consumers' receive times, not by SQS's order`,
      );
    }
    // Retries on FIFO that nothing in the ledger explains: counted as retries on the queue
    // type's rule (FIFO makes no copies), and said so, since each is an attempt the ledger shows
    // ending well that SQS did not delete. The note says what the FIFO redelivery rule
    // (shared/src/fifo-redelivery.ts) ruled out first: a visibility timeout that ran out under
    // the receive below is one of its retries, not among these.
    const byType = a.duplicates.fifoRetriesByQueueType;
    if (byType > 0) {
      notes.push(
        `${q}: ${byType} of its retries after failure follow a receive the ledger shows ending well: applied or suppressed, in an invocation that ended, in less than the queue's visibility timeout and before the message was received again, with no failure record of it as the consumer writes one (a hand-back of its invocation beside a receive that ran and ended is none), and a receive of it failing or left unended in the same invocation explains nothing (two receives of one message in one batch); a FIFO queue makes no copies, so each is counted a retry on that rule alone; SQS received the message again because that receive was not deleted, for a reason the ledger does not show (an invocation that died or failed after its end write committed, with no mark of it; a delete Lambda could not make or SQS lost)`,
      );
    }
  }
  const skipped = clockSkipNote(input.ledger);
  if (skipped) notes.push(skipped);
  return {
    report: {
      runId: input.runId,
      target: input.target,
      generatedAt: (input.now ?? new Date()).toISOString(),
      config,
      accepted: input.ledger.accepted.length,
      queues: { fifo: fifo.metrics, standard: standard.metrics },
      notes,
    },
    ledger: input.ledger,
    analysis: { fifo, standard },
    clientRetries: input.ledger.accepted.reduce(
      (n, a) => n + Math.max(0, (a.requests ?? 1) - 1),
      0,
    ),
    failedDeliveries: {
      fifo: input.ledger.failures.filter((f) => f.queue === 'fifo' && !f.notAttempted).length,
      standard: input.ledger.failures.filter((f) => f.queue === 'standard' && !f.notAttempted)
        .length,
    },
    suppressedBy: suppressedBy(input.ledger),
  };
}
