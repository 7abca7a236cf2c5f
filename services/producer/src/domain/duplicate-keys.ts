/**
 * A JSON object with a key twice is ambiguous: JSON.parse keeps the last value, other parsers
 * keep the first or refuse it (RFC 8259 4: "The names within an object SHOULD be unique", and
 * when they are not "the behavior of software that receives such an object is unpredictable").
 * A body that says `"customerId"` twice can show a validator one customer and a reader of the
 * same bytes another, so the producer refuses it.
 */

/** Where a parse is: in an object (its keys so far, the key being read) or an array. */
interface Frame {
  array: boolean;
  /** Object: the keys seen so far, from its first key on. */
  keys: Set<string> | undefined;
  /** Object: the key whose value is being read. */
  key: string;
  /** Array: the index of the element being read. */
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** What a one-character escape stands for (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`). */
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * The text of a JSON string's contents (between its quotes), escapes decoded as JSON.parse
 * decodes them; the string is one JSON.parse accepted. In one pass, without a parse per key.
 */
function decodeKey(text: string, from: number, to: number): string {
  let out = '';
  let run = from;
  for (let i = from; i < to; i++) {
    if (text.charCodeAt(i) !== BACKSLASH) continue;
    out += text.slice(run, i);
    const e = text[i + 1]!;
    if (e === 'u') {
      out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      out += ESCAPES[e] ?? e;
      i += 1;
    }
    run = i + 1;
  }
  return out + text.slice(run, to);
}

/** `items[0].sku`, as the order's field errors name a path. */
function pathOf(stack: readonly Frame[]): string {
  let out = '';
  for (const frame of stack) {
    if (frame.array) out += `[${frame.index}]`;
    else out += out === '' ? frame.key : `.${frame.key}`;
  }
  return out;
}

/**
 * Whether a key can be written in JSON as itself, with no escape: no `"`, `\\`, control
 * character (RFC 8259 7) or surrogate without its pair.
 */
function writableAsIs(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === QUOTE || c === BACKSLASH) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = key.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** What {@link scanKeys} found in a JSON text. */
export interface KeyScan {
  /** The path of the first key repeated within one object, as {@link duplicateKeyPath}. */
  repeated: string | undefined;
  /**
   * The same JSON with each escaped key that can be written as itself so written
   * (`"\u0061mount"` becomes `"amount"`); the very string given when no key changed. Keys that
   * need an escape (`"\u005c"`) and every value stay as written. Only when `repeated` is
   * undefined: the scan stops at a repeated key.
   */
  text: string;
}

/**
 * The path of the first key a JSON text repeats within one object (`items[1].sku`), or
 * undefined when every object's keys are distinct. Keys are compared as JSON.parse reads them,
 * so `"a"` and `"\u0061"` are the same key. `text` must be JSON that JSON.parse accepted.
 */
export function duplicateKeyPath(text: string): string | undefined {
  return scanKeys(text).repeated;
}

/**
 * Reads every object key of a JSON text that JSON.parse accepted: the first repeated key, and
 * the text with its escaped keys written as themselves where they can be.
 *
 * Why the rewrite: V8's JSON.parse (Node 24 and 26, nodejs/node#63785) can read an escaped
 * object key as another key it met before at the same place in an object of the same shape,
 * across parses: after one body with a key `"\u005c"`, a later valid body's `"\u0062"` may come
 * back as a backslash, and its field goes missing. A key written without an escape is read right.
 *
 * One pass over the text with no recursion: each character is looked at once (a key with an
 * escape twice, to decode it) and each key is kept in its object's Set, so time and memory are
 * linear in the text, however many keys or however deep. A text with no escaped key builds
 * nothing more.
 */
export function scanKeys(text: string): KeyScan {
  const stack: Frame[] = [];
  /** The rewritten text so far, up to `copied`; empty until a key is rewritten. */
  let out = '';
  let copied = 0;
  /** The next string is a key: right after `{`, or after `,` inside an object. */
  let keyNext = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = i + 1;
      let escaped = false;
      for (; end < length; end++) {
        const d = text.charCodeAt(end);
        if (d === BACKSLASH) {
          escaped = true;
          end++;
        } else if (d === QUOTE) {
          break;
        }
      }
      if (keyNext) {
        keyNext = false;
        const key = escaped ? decodeKey(text, i + 1, end) : text.slice(i + 1, end);
        const frame = stack[stack.length - 1]!;
        frame.keys ??= new Set();
        frame.key = key;
        if (frame.keys.has(key)) return { repeated: pathOf(stack), text };
        frame.keys.add(key);
        if (escaped && writableAsIs(key)) {
          out += text.slice(copied, i + 1) + key;
          copied = end;
        }
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push({ array: false, keys: undefined, key: '', index: 0 });
      keyNext = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ array: true, keys: undefined, key: '', index: 0 });
      keyNext = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      keyNext = false;
    } else if (c === 0x2c /* , */) {
      const frame = stack[stack.length - 1]!;
      if (frame.array) frame.index++;
      keyNext = !frame.array;
    }
  }
  return { repeated: undefined, text: copied === 0 ? text : out + text.slice(copied) };
}
