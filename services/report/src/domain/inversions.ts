import { CustomerApplyOrder } from '../../../../shared/src/apply-order';

/**
 * Kendall distance of a sequence against its sorted order: the number of pairs (i < j) with
 * values[i] > values[j]. Counted with a merge sort so a customer with 10,000 orders costs
 * O(n log n), not 50 million comparisons.
 */
export function countInversions(values: readonly number[]): number {
  const a = values.slice();
  const buf = new Array<number>(a.length);
  let count = 0;
  for (let width = 1; width < a.length; width *= 2) {
    for (let lo = 0; lo < a.length - width; lo += 2 * width) {
      const mid = lo + width;
      const hi = Math.min(lo + 2 * width, a.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (a[j]! < a[i]!) {
          count += mid - i;
          buf[k++] = a[j++]!;
        } else {
          buf[k++] = a[i++]!;
        }
      }
      while (i < mid) buf[k++] = a[i++]!;
      while (j < hi) buf[k++] = a[j++]!;
      for (let m = lo; m < hi; m++) a[m] = buf[m]!;
    }
  }
  return count;
}

/**
 * How many entries arrive after a strictly higher value was already seen: the late applies of
 * one customer's sequences in apply order, by the rule the live view shares (CustomerApplyOrder).
 */
export function countOutOfOrder(values: readonly number[]): number {
  // In order, nothing needs keeping for a later entry added out of order.
  const order = new CustomerApplyOrder(0);
  let count = 0;
  values.forEach((v, i) => {
    if (order.add(i, v)) count++;
  });
  return count;
}
