/**
 * A bounded look at the shape of a JSON body before it is parsed, for the servers of the local
 * cloud that parse bodies from clients on the main thread (the API's request validator, the SQS
 * emulator's JSON protocol). JSON.parse of a body that nests millions of arrays, or holds one
 * object of hundreds of thousands of escaped keys, held the main thread (and with it every
 * surface of the local cloud) 1 to 2.5 s per request before any rule refused it (found in audit).
 */

/**
 * The most a body may have: nesting of objects and arrays (`depth`), distinct keys in one object
 * (`keys`, and twice as many members, a key said again counting again: see shapeProblem),
 * elements in one array (`items`), and optionally values in all (`values`: each `{`,
 * `[` and `,` outside strings counts one, so every object, array, member and element after a
 * container's first). Without `values`, the other three bound the work only when they are small
 * (the order model's 3, 5 and 50 hold at most 52 objects); with a deeper or wider shape a body
 * within them can still hold a million empty objects.
 */
export interface ShapeBounds {
  depth: number;
  keys: number;
  items: number;
  values?: number;
}

/** What {@link shapeProblem} answers for a text that JSON.parse would refuse too. */
export const NOT_JSON = 'body is not JSON';

/**
 * Why a body cannot be a value within `bounds` (nested deeper, an object with more distinct keys
 * or an array with more elements, more values in all), or undefined when it may be; also
 * {@link NOT_JSON} for what makes it no JSON at all here (a string left open, a key no JSON
 * string). One pass with no value built, stopping at the first excess: JSON.parse of a 10 MB body
 * nesting 5 million arrays, or of one object with 800,000 escaped keys, held the main thread (and
 * with it SQS, DynamoDB and the API) about 2.5 s before the model refused it. Keys are compared
 * decoded, as a parser reads them (`"a"` and `"\u0061"` are one key), so no body within the
 * bounds is refused here. An object may also say its keys again (JSON.parse keeps the last value;
 * the API's producer names a key said twice), up to twice `keys` members in all, not more:
 * counting distinct keys only, one object of 10 MB that said one key (`"\u0061"`) a million times
 * passed, and its scan and parse held the main thread about 0.5 s, 13 times a body as big that is
 * one string.
 */
export function shapeProblem(text: string, bounds: ShapeBounds): string | undefined {
  /** Each open object's distinct keys and members so far, or each open array's commas. */
  const stack: { keys: Set<string> | undefined; commas: number }[] = [];
  const maxMembers = 2 * bounds.keys;
  const maxValues = bounds.values ?? Infinity;
  let values = 0;
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return NOT_JSON;
        let before = end - 1;
        while (text.charCodeAt(before) === 0x5c /* \ */) before--;
        if ((end - 1 - before) % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      const top = stack[stack.length - 1];
      if (keyNext && top?.keys) {
        const keys = top.keys;
        let key = text.slice(i + 1, end);
        if (key.includes('\\')) {
          try {
            key = JSON.parse(`"${key}"`) as string;
          } catch {
            return NOT_JSON;
          }
        }
        keys.add(key);
        if (keys.size > bounds.keys) return `an object has more than ${bounds.keys} keys`;
        if (++top.commas > maxMembers) return `an object has more than ${maxMembers} members`;
      }
      keyNext = false;
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= bounds.depth) return `nested deeper than ${bounds.depth}`;
      if (++values > maxValues) return `more than ${maxValues} values`;
      stack.push({ keys: c === 0x7b ? new Set() : undefined, commas: 0 });
      keyNext = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      keyNext = false;
    } else if (c === 0x2c /* , */) {
      if (++values > maxValues) return `more than ${maxValues} values`;
      const top = stack[stack.length - 1];
      if (top && !top.keys && ++top.commas >= bounds.items) {
        return `an array has more than ${bounds.items} elements`;
      }
      keyNext = top?.keys !== undefined;
    }
  }
  return undefined;
}
