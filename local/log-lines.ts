/**
 * Cuts what a function writes to stdout or stderr into log lines, as Lambda cuts it into log
 * events: one per newline, and a line longer than MAX_LINE_BYTES in pieces of at most that many
 * bytes, so the runtime holds at most that much of a line however much a function writes without
 * a newline (it held all of it: a function writing 50 MB with no newline held 50 MB, and one
 * writing on, the whole process's memory).
 *
 * The figure: AWS does not document where Lambda cuts a long line. Users saw a line written to
 * stdout arrive as several events, cut at 2^18 - 26 bytes (CloudWatch Logs' 256 KB event limit
 * less its 26 bytes per event); CloudWatch Logs' own limit is 1 MB since April 2025 ("Each log
 * event can be no larger than 1 MB", PutLogEvents), and after that change Lambda still cut at
 * 256 KB (newrelic/newrelic-lambda-layers#350). See docs/fidelity.md.
 *
 * Each piece of a cut line is handed on with a marker in front, `(piece N of a line over
 * 262118 bytes) `, which AWS does not add: a piece is not a line the function wrote, and the
 * marker keeps it from being read as one (the live view reads embedded-metric-format lines as
 * whole JSON documents; the tail of a cut line could be one by itself). A piece is cut where a
 * UTF-8 character starts, so it decodes to the text the function wrote.
 */

/** The most bytes of one line handed on as one: 2^18 - 26, where users saw Lambda cut. */
export const MAX_LINE_BYTES = 262_144 - 26;

const NEWLINE = 0x0a;

/**
 * Where to cut `buf[0, length)` so no character is split: before the last character if its bytes
 * are not all there yet, else at `length`.
 */
function cutPoint(buf: Buffer, length: number): number {
  // A UTF-8 character is a lead byte and up to 3 continuation bytes (10xxxxxx).
  let lead = length - 1;
  while (lead > 0 && length - lead < 4 && (buf[lead]! & 0xc0) === 0x80) lead--;
  const b = buf[lead]!;
  const size =
    b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xc0 && b < 0xe0 ? 2 : 1;
  // Bytes that are not UTF-8 (no lead byte in reach) are cut where the buffer is full.
  return lead > 0 && lead + size > length ? lead : length;
}

export class LogLines {
  /**
   * The line so far, at most `max` bytes; grown as a line needs (every environment has two
   * streams, and most lines are short), never past `max`.
   */
  private buf = Buffer.alloc(0);
  private length = 0;
  /** Pieces of the current line handed on so far (0: not cut). */
  private pieces = 0;
  private peak = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly max = MAX_LINE_BYTES,
  ) {
    if (!Number.isInteger(max) || max < 4)
      throw new RangeError('max must be an integer of 4 or more');
  }

  /** Bytes of an unfinished line held now. */
  get buffered(): number {
    return this.length;
  }

  /** The most bytes of an unfinished line ever held at once. */
  get peakBuffered(): number {
    return this.peak;
  }

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, at);
      const end = nl < 0 ? chunk.length : nl;
      while (at < end) {
        if (this.length === this.max) this.cut();
        const n = Math.min(end - at, this.max - this.length);
        this.room(this.length + n);
        chunk.copy(this.buf, this.length, at, at + n);
        this.length += n;
        at += n;
        if (this.length > this.peak) this.peak = this.length;
      }
      if (nl < 0) return;
      this.finish();
      at = nl + 1;
    }
  }

  /**
   * Hands on the line written so far without a newline, as its own line (the last piece of a
   * cut one): the invocation or the environment that wrote it has ended, and Lambda logs it then.
   */
  flush(): void {
    if (this.length > 0 || this.pieces > 0) this.finish();
  }

  private room(bytes: number): void {
    if (bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.min(this.max, Math.max(bytes, 2 * this.buf.length, 256)));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /** The line goes on past `max` bytes: hands on what is held, up to the last whole character. */
  private cut(): void {
    const end = cutPoint(this.buf, this.length);
    this.hand(this.buf.toString('utf8', 0, end), ++this.pieces);
    this.buf.copy(this.buf, 0, end, this.length);
    this.length -= end;
  }

  private finish(): void {
    const text = this.buf.toString('utf8', 0, this.length);
    const piece = this.pieces > 0 ? this.pieces + 1 : 0;
    this.length = 0;
    this.pieces = 0;
    this.hand(text, piece);
  }

  private hand(text: string, piece: number): void {
    if (text.trim() === '') return;
    this.emit(piece === 0 ? text : `(piece ${piece} of a line over ${this.max} bytes) ${text}`);
  }
}
