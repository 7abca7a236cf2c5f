import { parseMetricLine } from '../../../local/live/emf';
import { LogLines, MAX_LINE_BYTES } from '../../../local/log-lines';
import { applied, emfLine } from '../live/emf-lines';

function collect(max?: number) {
  const lines: string[] = [];
  const out = new LogLines((line) => lines.push(line), max);
  return { lines, out };
}

const PIECE = /^\(piece (\d+) of a line over (\d+) bytes\) /;

/** The text of a piece without its marker, and the piece's number. */
function unmark(line: string): { n: number; text: string } {
  const m = PIECE.exec(line);
  if (!m) throw new Error(`not a piece: ${line.slice(0, 80)}`);
  return { n: Number(m[1]), text: line.slice(m[0].length) };
}

describe('LogLines (function output cut into log lines)', () => {
  it("cuts at Lambda's observed line size, 2^18 - 26 bytes", () => {
    expect(MAX_LINE_BYTES).toBe(262_118);
  });

  it('hands on one line per newline, across chunks, and skips blank ones', () => {
    // Prepare
    const { lines, out } = collect();

    // Act
    out.write(Buffer.from('first li'));
    out.write(Buffer.from('ne\n\n   \nsecond\nthi'));
    out.write(Buffer.from('rd\n'));

    // Assess
    expect(lines).toEqual(['first line', 'second', 'third']);
    expect(out.buffered).toBe(0);
  });

  it('holds no more than one piece of a line written without a newline, however much comes, and loses none of it', () => {
    // Prepare: 50 MB with no newline, in 64 KiB chunks, then the newline.
    const { lines, out } = collect();
    const chunk = Buffer.alloc(65_536, 'a');
    const total = 50 * 1024 * 1024;

    // Act
    for (let sent = 0; sent < total; sent += chunk.length) out.write(chunk);
    out.write(Buffer.from('\n'));

    // Assess: every piece is at most the limit, numbered in order, and together they are the
    // whole line; the most held at once is one piece.
    expect(out.peakBuffered).toBe(MAX_LINE_BYTES);
    expect(out.buffered).toBe(0);
    expect(lines).toHaveLength(Math.ceil(total / MAX_LINE_BYTES));
    let bytes = 0;
    lines.forEach((line, i) => {
      const { n, text } = unmark(line);
      expect(n).toBe(i + 1);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_LINE_BYTES);
      expect(/^a+$/.test(text)).toBe(true);
      bytes += text.length;
    });
    expect(bytes).toBe(total);
  });

  it('hands on a line of exactly the limit whole, and one byte more in two pieces', () => {
    const { lines, out } = collect(10);
    out.write(Buffer.from('0123456789\n01234567890\n'));
    expect(lines).toEqual([
      '0123456789',
      '(piece 1 of a line over 10 bytes) 0123456789',
      '(piece 2 of a line over 10 bytes) 0',
    ]);
  });

  it('cuts a piece where a character starts, so each piece decodes to what was written', () => {
    // Prepare: 2, 3 and 4 byte characters, fed one byte at a time, through a 10-byte limit.
    const { lines, out } = collect(10);
    const text = 'aé€😀b'.repeat(20);

    // Act
    for (const byte of Buffer.from(`${text}\n`)) out.write(Buffer.from([byte]));

    // Assess
    const pieces = lines.map(unmark);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    for (const p of pieces) {
      expect(p.text).not.toContain('\ufffd');
      expect(Buffer.byteLength(p.text)).toBeLessThanOrEqual(10);
    }
  });

  it('hands no piece of a cut line to the live view as a metric line', () => {
    // Prepare: a metric line by itself; and the same document after a limit's worth of text (the
    // line's tail piece would be the document alone), and followed by a limit's worth of spaces
    // (its first piece would be the document and blanks, which JSON reads).
    const metric = emfLine('standard', [applied('c1', 1)]);
    const { lines, out } = collect();

    // Act
    out.write(Buffer.from(`${metric}\n`));
    out.write(Buffer.from(`${'x'.repeat(MAX_LINE_BYTES)}${metric}\n`));
    out.write(Buffer.from(`${metric}${' '.repeat(MAX_LINE_BYTES)}\n`));

    // Assess: the whole line is a metric line; no piece is, though their text would have been
    // (the last line's second piece, all blanks, is skipped as a blank line is).
    expect(lines).toHaveLength(4);
    expect(parseMetricLine(lines[0]!)).toBeDefined();
    for (const piece of lines.slice(1)) expect(parseMetricLine(piece)).toBeUndefined();
    expect(unmark(lines[2]!)).toEqual({ n: 2, text: metric });
    expect(parseMetricLine(unmark(lines[2]!).text)).toBeDefined();
    expect(unmark(lines[3]!).n).toBe(1);
    expect(parseMetricLine(unmark(lines[3]!).text)).toBeDefined();
  });

  it('hands on a line left without a newline when flushed, as the last piece of a cut one, and nothing when none is held', () => {
    // Prepare
    const { lines, out } = collect(8);

    // Act: a whole line and an unfinished one; a line cut once and left unfinished; a flush
    // with nothing held; then a line after the flushes.
    out.write(Buffer.from('one\ntwo'));
    out.flush();
    out.write(Buffer.from('0123456789'));
    out.flush();
    out.flush();
    out.write(Buffer.from('   '));
    out.flush();
    out.write(Buffer.from('after\n'));

    // Assess
    expect(lines).toEqual([
      'one',
      'two',
      '(piece 1 of a line over 8 bytes) 01234567',
      '(piece 2 of a line over 8 bytes) 89',
      'after',
    ]);
    expect(out.buffered).toBe(0);
  });
});
