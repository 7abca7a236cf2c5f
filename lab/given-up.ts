import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GivenUpOrder, LoadSummary } from './loadgen/run-load';

/**
 * The orders a run's load client gave up on (LoadSummary.givenUp), as `npm run load`, the demo,
 * the experiments and the soak show them: a headline, the first GIVEN_UP_NAMED named on the
 * terminal, and every one in a file of the run's output directory (GIVEN_UP_FILE: the list as JSON, one object per
 * order). An order given up and not held by the API never reached a queue: the report, which
 * reads the ledger, counts it neither accepted nor lost, so only these lines say it is missing.
 */

/** The file, in a run's output directory, that holds every given-up order. */
export const GIVEN_UP_FILE = 'given-up.json';

/** Given-up orders named on the terminal at most; the file holds them all. */
export const GIVEN_UP_NAMED = 10;

/**
 * The file of one run among several (an experiment's): `given-up-<label>.json`, the label's
 * spaces as dashes (`g1 c2 b10` -> given-up-g1-c2-b10.json).
 */
export function givenUpFile(label: string): string {
  return `given-up-${label.trim().replace(/\s+/g, '-')}.json`;
}

/** The given-up orders the API does not hold (refused, not found, or its record unread). */
export function notAccepted(givenUp: readonly GivenUpOrder[]): GivenUpOrder[] {
  return givenUp.filter((g) => g.atApi !== 'accepted');
}

/** Writes every given-up order to `dir`/`file`, the list as JSON; returns the file's path. */
export async function writeGivenUp(
  dir: string,
  givenUp: readonly GivenUpOrder[],
  file = GIVEN_UP_FILE,
): Promise<string> {
  const path = join(dir, file);
  await writeFile(path, `${JSON.stringify(givenUp, null, 2)}\n`);
  return path;
}

/**
 * One line over every given-up order: how many, how many the API holds all the same (counted
 * accepted) and how many it does not, said to be lost by the client, not by a queue, and where
 * the whole list is.
 */
export function givenUpHeadline(givenUp: readonly GivenUpOrder[], path: string): string {
  // A 202 whose body names no order ('unreadable answer') is a 202 all the same.
  const unreadable = givenUp.filter((g) => g.why === 'unreadable answer').length;
  const unreachable = givenUp.filter((g) => g.why === 'API unreachable').length;
  const notes = [
    ...(unreadable > 0 ? [`${unreadable} of them a 202 that named no order`] : []),
    ...(unreachable > 0
      ? [
          `${unreachable} of them given up when every connection to the API was refused or had no route`,
        ]
      : []),
  ];
  const got = `got no 202${unreadable > 0 ? ' naming them' : ''}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  const lost = notAccepted(givenUp);
  const held = givenUp.length - lost.length;
  // Asked and not answered, or not asked at all: the look-ups' time had run out, or the API was
  // unreachable (then none is asked). Either way the API may hold them.
  const unanswered = lost.filter((g) => g.atApi === 'unknown').length;
  const unasked = lost.filter((g) => g.atApi === 'not asked').length;
  const notAsked = `not asked of the API (${unreachable > 0 ? 'it was unreachable' : "the look-ups' time had run out"})`;
  const whose =
    unanswered + unasked === 0
      ? ''
      : ` (${unanswered + unasked} of them unconfirmed: ${
          unasked === 0
            ? 'the API did not answer for them'
            : unanswered === 0
              ? notAsked
              : `the API did not answer for ${unanswered}, ${unasked} ${notAsked}`
        })`;
  const verdict =
    lost.length > 0
      ? `${lost.length} not accepted by the API${whose}: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out)`
      : 'none lost';
  return `given up by the client: ${givenUp.length} orders ${got}; ${held} of them held by the API all the same (counted accepted), ${verdict}; all ${givenUp.length} in ${path}`;
}

/**
 * A short note of the given-up orders, for a run's summary line: how many, how many the API does
 * not hold, and that those are lost by the client, not by a queue.
 */
export function givenUpNote(givenUp: readonly GivenUpOrder[]): string {
  const lost = notAccepted(givenUp).length;
  return `the load client gave up on ${givenUp.length} orders, ${lost} not accepted by the API${lost > 0 ? ' (lost by the client, not by a queue)' : ''}`;
}

/**
 * How a given-up order's line says why the client stopped, for every `why` (a new one is a type
 * error here, not a line that says nothing of it).
 */
const WHY: Record<GivenUpOrder['why'], string> = {
  refused: 'refused',
  'retries ran out': 'retries ran out',
  'unreadable answer': 'unreadable answer (a 202 that named no order)',
  'API unreachable':
    'API unreachable (every connection to it was refused or had no route; the client stopped sending)',
};

/**
 * A line for each of the first GIVEN_UP_NAMED given-up orders (then how many more): its key, why
 * the client stopped after how many tries, its last answer and what the API said of it after the
 * load (a refused order is not asked: its key may name another order; nor is an order that never
 * reached an unreachable API, which does not hold it).
 */
export function givenUpLines(givenUp: readonly GivenUpOrder[]): string[] {
  const lines = givenUp.slice(0, GIVEN_UP_NAMED).map((g) => {
    if (g.attempts === 0)
      return `${g.idempotencyKey}: ${WHY[g.why]} before its first try; never sent`;
    const at =
      g.atApi === undefined
        ? g.why === 'API unreachable'
          ? "; never reached the API (every try's connection was refused or had no route)"
          : '; not asked of the API'
        : `; at the API: ${g.atApi}`;
    return `${g.idempotencyKey}: ${WHY[g.why]} after ${g.attempts} ${g.attempts === 1 ? 'try' : 'tries'}, last ${g.last}${at}`;
  });
  if (givenUp.length > GIVEN_UP_NAMED)
    lines.push(`... and ${givenUp.length - GIVEN_UP_NAMED} more`);
  return lines;
}

/**
 * A run's given-up orders, written to `dir`/`file` and told: the headline, then the named orders
 * indented by two. Nothing written and no line when the client gave up on none.
 */
export async function reportGivenUp(
  givenUp: readonly GivenUpOrder[],
  dir: string,
  file = GIVEN_UP_FILE,
): Promise<string[]> {
  if (givenUp.length === 0) return [];
  const path = await writeGivenUp(dir, givenUp, file);
  return [givenUpHeadline(givenUp, path), ...givenUpLines(givenUp).map((l) => `  ${l}`)];
}

/**
 * The line of a load the client cut off (`unreachable`: every connection refused or with no
 * route for --unreachable-after), undefined when it was not: how long, that the client stopped
 * sending, and the planned client retries it did not make (the orders given up and the retries
 * not answered are counted by their own lines). A load cut off did not send what was planned,
 * even when every order was accepted first.
 */
export function cutOffLine(
  load: Pick<LoadSummary, 'unreachable'> & Partial<Pick<LoadSummary, 'retriesNotMade'>>,
): string | undefined {
  if (!load.unreachable) return undefined;
  const notMade = load.retriesNotMade ?? 0;
  return `the API could not be reached for ${(load.unreachable.windowMs / 1000).toFixed(1)} s (every connection refused or with no route, --unreachable-after): the load client stopped sending${notMade > 0 ? `, ${notMade} planned client retries not made` : ''}`;
}

/**
 * Why a run's load fails the command that sent it, as `npm run load` exits 1 for the same load:
 * orders given up that the API does not hold (named, the first GIVEN_UP_NAMED; every one in
 * `path`), client retries answered with another order or not answered, the API found gone
 * (`unreachable`). Undefined when the load has none of these: every given-up order held by the
 * API all the same is accepted, not an error.
 */
export function loadFailure(
  load: Pick<
    LoadSummary,
    'givenUp' | 'errors' | 'retryMismatches' | 'retriesUnanswered' | 'unreachable'
  > &
    Partial<Pick<LoadSummary, 'retriesNotMade'>>,
  path: string,
): string | undefined {
  const lost = notAccepted(load.givenUp);
  const mismatches = load.retryMismatches ?? 0;
  const unanswered = load.retriesUnanswered ?? 0;
  const other = (load.errors ?? 0) - lost.length - mismatches - unanswered;
  const parts = [
    ...(lost.length > 0
      ? [
          `the load client gave up on ${lost.length} orders the API does not hold (lost by the client, not by a queue): ${lost
            .slice(0, GIVEN_UP_NAMED)
            .map((g) => g.idempotencyKey)
            .join(
              ', ',
            )}${lost.length > GIVEN_UP_NAMED ? `, ... (${lost.length - GIVEN_UP_NAMED} more)` : ''}, all in ${path}`,
        ]
      : []),
    ...(mismatches > 0
      ? [`${mismatches} client retries were answered with a different order`]
      : []),
    ...(unanswered > 0
      ? [`${unanswered} client retries were not answered (the API was unreachable)`]
      : []),
    ...(other > 0 ? [`${other} more load errors`] : []),
    ...(load.unreachable ? [cutOffLine(load)!] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : undefined;
}
