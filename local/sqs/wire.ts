/**
 * What the wire protocols (protocol.ts) and the actions (actions/) share, beneath both: the
 * JSON-shaped input either protocol turns a request into and the output an action answers, the
 * characters a message can carry, and what a Query request repeated, noted by the protocol beside
 * the input for the actions to refuse. It imports nothing, so the actions never reach the
 * protocol layer above them.
 */

// biome-ignore lint/suspicious/noExplicitAny: requests are untyped JSON, read by Params.
export type Input = Record<string, any>;
export type Output = Record<string, unknown>;

/**
 * An object without a prototype: names from a request (`__proto__`, `constructor`) are plain
 * keys in it, never a path into Object.prototype.
 */
export const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * Characters an XML 1.0 document cannot hold at all, not even as a character reference (its
 * Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]), and
 * lone surrogates, which have no UTF-8 form. SQS refuses them in message bodies and attribute
 * values (InvalidMessageContents: send.ts, attributes.ts); the Query protocol's answers write
 * each one as U+FFFD (protocol.ts).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML forbids.
export const NOT_XML_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Why SendMessage must refuse a message attribute map a Query request gave: one name given by
 * two entries, or one of an entry's parameters sent twice. Kept beside the map (not in it, where
 * a name from the request could be), for SendMessage to refuse in its own order of checks, and
 * per entry in a batch. Over JSON no map is here: a repeated key keeps the last.
 */
const repeatedInMap = new WeakMap<object, string>();

/** Notes that the Query request repeated a name in `map`, with the sentence to refuse it with. */
export function noteQueryRepeat(map: object, sentence: string): void {
  repeatedInMap.set(map, sentence);
}

/** The sentence SendMessage refuses `map` with (InvalidParameterValue), if a Query request repeated a name in it. */
export function queryRepeat(map: unknown): string | undefined {
  return typeof map === 'object' && map !== null ? repeatedInMap.get(map) : undefined;
}

/**
 * The single-value parameters a Query request gave twice, by the member they fill, beside the
 * input (or batch entry) they are in: `MessageBody=a&MessageBody=b` had been read as "b", the
 * later one silently winning. Refused when the action reads the member (Params.raw), so that a
 * repeated parameter an action never reads is ignored as any unread one is, and one in a batch
 * entry fails that entry, as a repeated message attribute does. AWS's answer is not recorded
 * anywhere we found; InvalidParameterValue, "Parameter MessageBody is specified more than once.",
 * is the emulator's, the words of its other repeat refusals. Over JSON a repeated key keeps the
 * last (JSON.parse), as before.
 */
const repeatedScalarsIn = new WeakMap<object, Map<string, string>>();

/** Notes that the Query request gave `parameter`, which fills `member` of `input`, twice. */
export function noteRepeatedScalar(input: Input, member: string, parameter: string): void {
  let map = repeatedScalarsIn.get(input);
  if (!map) {
    map = new Map();
    repeatedScalarsIn.set(input, map);
  }
  if (!map.has(member)) map.set(member, parameter);
}

/** The repeated parameter behind each member of `input` a Query request gave twice, if any. */
export function repeatedScalars(input: object): ReadonlyMap<string, string> | undefined {
  return repeatedScalarsIn.get(input);
}
