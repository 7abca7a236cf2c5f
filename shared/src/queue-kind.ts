/**
 * The pipeline's two queues, by kind: every order goes on both, and everything downstream (the
 * consumers, the ledger's records, the report) says which one it speaks of. The vocabulary every
 * other module of shared/ builds on, so it imports nothing; the pipeline config
 * (config/pipeline.ts) gives the settings of each queue by these kinds. The one home of both
 * names: every module imports them from here.
 */
export type QueueKind = 'fifo' | 'standard';
export const QUEUE_KINDS: readonly QueueKind[] = ['fifo', 'standard'] as const;
