/**
 * When an apply is out of order ("late"), one rule for the report and the live view: an order
 * applied after a higher sequence of the same customer, "after" meaning a lower apply index
 * (the customer's turn counter on that queue) among the applies whose effect committed. A turn
 * taken whose effect never committed (refused by the effect guard, or an attempt that stopped
 * between its turn and its effect) is no apply, so it makes nothing late.
 *
 * The report adds a customer's first effects in apply-index order. The live view adds applies
 * as the consumers report them, which on standard can be out of index order (two invocations of
 * one customer at once end in either order): an apply is judged against the applies already
 * added with a lower index, so an apply reported before a lower-index higher sequence is not
 * called late (counts can be lower than the report's, never higher).
 */
export class CustomerApplyOrder {
  /** Applies added out of index order may need these: [applyIndex, sequence], by index. */
  private readonly kept: Array<[number, number]> = [];
  private highestIndex = Number.NEGATIVE_INFINITY;
  private highestSequence = Number.NEGATIVE_INFINITY;
  /** The highest index and the highest sequence of the applies no longer kept. */
  private forgottenIndex = Number.NEGATIVE_INFINITY;
  private forgottenSequence = Number.NEGATIVE_INFINITY;

  /** `keep`: applies remembered for judging later ones added out of index order. */
  constructor(private readonly keep = Number.POSITIVE_INFINITY) {}

  /** Adds one apply; true when it is late. */
  add(applyIndex: number, sequence: number): boolean {
    let before: number;
    if (applyIndex > this.highestIndex) {
      // In index order (always, for the report): every apply added so far came before it.
      before = this.highestSequence;
      this.highestIndex = applyIndex;
    } else {
      // An apply older than one already added: only those with a lower index came before it;
      // the forgotten ones count only when all of them did.
      before = applyIndex > this.forgottenIndex ? this.forgottenSequence : Number.NEGATIVE_INFINITY;
      for (const [index, s] of this.kept) {
        if (index >= applyIndex) break;
        if (s > before) before = s;
      }
    }
    if (sequence > this.highestSequence) this.highestSequence = sequence;
    if (this.keep > 0) {
      let at = this.kept.length;
      while (at > 0 && this.kept[at - 1]![0] > applyIndex) at--;
      this.kept.splice(at, 0, [applyIndex, sequence]);
      if (this.kept.length > this.keep) {
        const [index, s] = this.kept.shift()!;
        if (index > this.forgottenIndex) this.forgottenIndex = index;
        if (s > this.forgottenSequence) this.forgottenSequence = s;
      }
    }
    return sequence < before;
  }
}
