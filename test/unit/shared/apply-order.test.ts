import { countOutOfOrder } from '../../../services/report/src/domain/inversions';
import { CustomerApplyOrder } from '../../../shared/src/apply-order';

describe('CustomerApplyOrder', () => {
  it('in index order, calls late what the report counts', () => {
    const sequences = [1, 4, 2, 3, 5, 5, 0];
    const order = new CustomerApplyOrder();
    const late = sequences.filter((s, i) => order.add(i + 1, s)).length;
    expect(late).toBe(countOutOfOrder(sequences));
    expect(late).toBe(3);
  });

  it('past its bound, judges an apply above every forgotten one against them, and one below by the kept ones only', () => {
    // Prepare: keeps 2. #9 at 1, #1 at 2, #2 at 3: the first is forgotten.
    const order = new CustomerApplyOrder(2);
    expect(order.add(1, 9)).toBe(false);
    expect(order.add(2, 1)).toBe(true);
    expect(order.add(3, 2)).toBe(true);

    // Act + Assess: #5 at 5, above the forgotten index 1, is late after #9. #7 at 4 is out of
    // order: before it, #9 (forgotten) and #1, #2; late. #8 at 0 (below the forgotten index)
    // is judged by the kept ones with a lower index: none, so not late (never more than the
    // report).
    expect(order.add(5, 5)).toBe(true);
    expect(order.add(4, 7)).toBe(true);
    expect(order.add(0, 8)).toBe(false);
  });
});
