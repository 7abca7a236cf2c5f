/**
 * At most the first `max` UTF-16 code units of `text`, cut on a code point boundary: a character
 * outside the Basic Multilingual Plane (an emoji, many CJK ideographs) is two code units, a
 * surrogate pair, and `slice` at an index between them left its high half alone at the end. A
 * lone surrogate in a message is no character: UTF-8 encoders write U+FFFD for it, and a JSON or
 * XML reader that checks its input refuses the text.
 */
export function codePointPrefix(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = Math.max(0, max);
  const last = text.charCodeAt(end - 1);
  const next = text.charCodeAt(end);
  const splitsPair = last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
  return text.slice(0, splitsPair ? end - 1 : end);
}
