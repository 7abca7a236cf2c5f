import {
  idempotencyKeyEnv,
  pointOverrides,
  sweepGrid,
} from '../../../services/report/src/experiments';

describe('experiment plumbing', () => {
  it('builds every combination of the sweep grid in a stable order', () => {
    const grid = sweepGrid([1, 10], [2, 5], [1, 10]);
    expect(grid).toHaveLength(8);
    expect(grid[0]).toEqual({ groups: 1, maximumConcurrency: 2, batchSize: 1 });
    expect(grid[7]).toEqual({ groups: 10, maximumConcurrency: 5, batchSize: 10 });
  });
  it('turns a point into consumer overrides for both queues', () => {
    expect(pointOverrides({ groups: 3, maximumConcurrency: 7, batchSize: 4 })).toEqual({
      fifo: { maximumConcurrency: 7, batchSize: 4 },
      standard: { maximumConcurrency: 7, batchSize: 4 },
    });
  });
  it('sets the consumers idempotency key variable', () => {
    expect(idempotencyKeyEnv('messageId')).toEqual({
      fifo: { IDEMPOTENCY_KEY: 'messageId' },
      standard: { IDEMPOTENCY_KEY: 'messageId' },
    });
  });
});
