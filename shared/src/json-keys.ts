/**
 * Reading the object keys of a JSON text from outside: one reader, parseJson, for every JSON
 * text a client, a queue or a queue's attribute hands the project, and the key scan beneath it
 * (scanKeys), which also finds a key an object repeats.
 *
 * Why JSON.parse alone is not enough: V8's JSON.parse (Node 24 and 26, nodejs/node#63785) can
 * read an object key written with an escape (`"\u0061mount"`, `"\""`) as another key: while it
 * builds an object it asks the object's hidden class whether its one expected next key is the
 * key's text, and it compares that key with the first n characters of the key as written, where
 * n is the length of the key decoded. A key an earlier parse in the same process met at that
 * place (after the same keys before it) can so take the escaped key's place: after a key
 * written `"\\u0061"` (the six characters \u0061), a later `"\u0061mount"` comes back as
 * `\u0061`, and after `"\\"`, a later `"\""` comes back as a backslash. The key read instead is
 * always the key as written cut to its decoded length, which takes in its first escape's
 * backslash (an escape is two characters or more and decodes to one): a key with no backslash
 * (every name the project looks up) is never the result of a misread, but such a name written
 * with an escape goes missing, and of two keys that JSON reads as the same one (`"amount"` then
 * `"\u0061mount"`) another value wins. A key written without an escape is compared as it
 * decodes and read right.
 *
 * A repeated key is ambiguous on its own: JSON.parse keeps the last value, other parsers keep
 * the first or refuse it (RFC 8259 4: "The names within an object SHOULD be unique", and when
 * they are not "the behavior of software that receives such an object is unpredictable"). A body
 * that says `"customerId"` twice can show a validator one customer and a reader of the same
 * bytes another, so the producer refuses it (duplicateKeyPath).
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
function decodeString(text: string, from: number, to: number): string {
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
   * need an escape (`"\u005c"`) and every value stay as written.
   */
  text: string;
  /** Whether some key needs an escape (`"\u005c"`), and so still has one in `text`. */
  escapeKept: boolean;
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
 * The index of the `"` that closes the JSON string whose contents start at `from`: the next `"`
 * that an even run of backslashes (none, or escaped backslashes) comes before. Each run is
 * counted once, so a text is gone through in linear time, mostly by indexOf.
 */
function stringEnd(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  for (;;) {
    let before = quote - 1;
    while (before >= from && text.charCodeAt(before) === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
}

/**
 * Reads every object key of a JSON text that JSON.parse accepted: the first repeated key, and
 * the text with its escaped keys written as themselves where they can be (see the top of this
 * file for why).
 *
 * One pass over the text with no recursion: strings are skipped by indexOf, a key with an
 * escape is looked at once more to decode it, and each key is kept in its object's Set, so time
 * and memory are linear in the text, however many keys or however deep. A text with no escaped
 * key builds nothing more.
 */
export function scanKeys(text: string): KeyScan {
  const stack: Frame[] = [];
  let repeated: string | undefined;
  let escapeKept = false;
  /** The rewritten text so far, up to `copied`; empty until a key is rewritten. */
  let out = '';
  let copied = 0;
  /** The first backslash at or after the string being read (-1: none left), found lazily. */
  let backslash = text.indexOf('\\');
  /** The next string is a key: right after `{`, or after `,` inside an object. */
  let keyNext = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i + 1);
      if (keyNext) {
        keyNext = false;
        if (backslash !== -1 && backslash < i) backslash = text.indexOf('\\', i);
        const escaped = backslash !== -1 && backslash < end;
        const key = escaped ? decodeString(text, i + 1, end) : text.slice(i + 1, end);
        const frame = stack[stack.length - 1]!;
        frame.keys ??= new Set();
        frame.key = key;
        if (frame.keys.has(key)) repeated ??= pathOf(stack);
        frame.keys.add(key);
        if (escaped && writableAsIs(key)) {
          out += text.slice(copied, i + 1) + key;
          copied = end;
        } else if (escaped) {
          escapeKept = true;
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
  return { repeated, text: copied === 0 ? text : out + text.slice(copied), escapeKept };
}

/**
 * JSON.parse, with every object key read as written, on any Node: the one reader of a JSON text
 * from outside the process. A text that is no JSON throws JSON.parse's own SyntaxError (it is
 * parsed by JSON.parse first), so a caller answers it as before. Otherwise the value is
 * JSON.parse's, with repeated keys as JSON.parse keeps them (the last value, at the first one's
 * place) and `__proto__` an own property, except that no key is misread (nodejs/node#63785, at
 * the top of this file):
 *
 * - a text with no backslash, or with no escaped key, is JSON.parse's value, from one parse;
 * - a text whose escaped keys can all be written as themselves is parsed again with them so
 *   written (scanKeys), which JSON.parse reads right;
 * - a text with a key that needs its escape (a `"`, `\`, control character or lone surrogate in
 *   it) is read by {@link readKeysApart}, which decodes each key itself and never builds an
 *   object through JSON.parse.
 *
 * The first JSON.parse still meets the text's keys, so a text can still lead a later JSON.parse
 * elsewhere in the process to misread a key that needs an escape as another that does: a text
 * the project writes itself (JSON.stringify of its own objects, whose keys need none) is read
 * right, and what comes from outside comes through here.
 */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!text.includes('\\')) return value;
  const scan = scanKeys(text);
  if (scan.escapeKept) return readKeysApart(text);
  return scan.text === text ? value : JSON.parse(scan.text);
}

/** An object or array being read by {@link readKeysApart}, and the key its next value takes. */
interface Open {
  value: Record<string, unknown> | unknown[];
  key: string;
}

/**
 * The value of a JSON text that JSON.parse accepted, read without JSON.parse building any
 * object: each string is decoded by {@link decodeString}, each number by Number (which reads every
 * JSON number as JSON.parse does), and each key defined on its object as JSON.parse defines it
 * (an own, writable, enumerable, configurable data property: `__proto__` too; a repeated key
 * keeps its first place and takes the last value). No recursion: nesting as deep as JSON.parse
 * takes is read. Slower than JSON.parse; only texts with a key that needs an escape come here.
 */
function readKeysApart(text: string): unknown {
  const stack: Open[] = [];
  let result: unknown;
  let keyNext = false;
  const put = (value: unknown): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) result = value;
    else if (Array.isArray(top.value)) top.value.push(value);
    else {
      Object.defineProperty(top.value, top.key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  };
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i + 1);
      const s = decodeString(text, i + 1, end);
      if (keyNext) {
        stack[stack.length - 1]!.key = s;
        keyNext = false;
      } else put(s);
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const value = c === 0x7b ? {} : [];
      put(value);
      stack.push({ value, key: '' });
      keyNext = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      keyNext = !Array.isArray(stack[stack.length - 1]!.value);
    } else if (c === 0x74 /* t */) {
      put(true);
      i += 3;
    } else if (c === 0x66 /* f */) {
      put(false);
      i += 4;
    } else if (c === 0x6e /* n */) {
      put(null);
      i += 3;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < length && NUMBER_PART.test(text[end]!)) end++;
      put(Number(text.slice(i, end)));
      i = end - 1;
    }
  }
  return result;
}

/** A character a JSON number may have after its first one. */
const NUMBER_PART = /[0-9.eE+-]/;
