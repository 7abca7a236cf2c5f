/**
 * JSON texts of a given size whose shape, not their bytes, is what costs a parser: for the tests
 * that a body deeper or wider than any request the surface takes is refused before it is parsed.
 */

/** `room` characters of arrays nested in one another. */
export const nestedArrays = (room: number): string => '['.repeat(room / 2) + ']'.repeat(room / 2);

/** One object of as many keys written with an escape (`"\u006b0":0, ...`) as fit in `room`. */
export function escapedKeys(room: number): string {
  const parts: string[] = [];
  let length = 2;
  for (let i = 0; length < room - 40; i++) {
    const part = `"\\u006b${i}":0`;
    parts.push(part);
    length += part.length + 1;
  }
  return `{${parts.join(',')}}`;
}

/** One object that says one key written with an escape (`"\u0061":0, ...`) as often as fits in `room`. */
export function repeatedKey(room: number): string {
  const member = '"\\u0061":0';
  return `{${Array(Math.floor((room - 2) / (member.length + 1)))
    .fill(member)
    .join(',')}}`;
}
