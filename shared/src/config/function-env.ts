/**
 * Names of the environment variables the functions read. The deployment description
 * (../deployment.ts) sets each function's; a target adds only what it supplies itself (the local
 * cloud's log level, tracing off and fault seed: `localTargetEnv` in local/cloud.ts).
 */
export const ENV = {
  LEDGER_TABLE_NAME: 'LEDGER_TABLE_NAME',
  IDEMPOTENCY_TABLE_NAME: 'IDEMPOTENCY_TABLE_NAME',
  FIFO_QUEUE_URL: 'FIFO_QUEUE_URL',
  STANDARD_QUEUE_URL: 'STANDARD_QUEUE_URL',
  /** Consumer: which queue it consumes, `fifo` or `standard`. */
  QUEUE_KIND: 'QUEUE_KIND',
  /** Consumer: `sequential` or `parallel` (standard only; FIFO is always sequential). */
  BATCH_PROCESSING: 'BATCH_PROCESSING',
  /** Consumer: DLQ maxReceiveCount, to mark a failure as final. */
  MAX_RECEIVE_COUNT: 'MAX_RECEIVE_COUNT',
  /** Consumer: `true` (default) or `false` to show what duplicates do without idempotency. */
  IDEMPOTENCY_ENABLED: 'IDEMPOTENCY_ENABLED',
  /** Consumer: `orderId` (default) or `messageId`, the experiment that shows client retries slip through. */
  IDEMPOTENCY_KEY: 'IDEMPOTENCY_KEY',
  IDEMPOTENCY_EXPIRES_AFTER_SECONDS: 'IDEMPOTENCY_EXPIRES_AFTER_SECONDS',
  /**
   * Consumer: `true` (default) writes the effect only if absent, keyed like the idempotency
   * record; `false` shows what that guard prevents (off anyway when idempotency is off).
   */
  EFFECT_GUARD_ENABLED: 'EFFECT_GUARD_ENABLED',
  IDEMPOTENCY_KEY_PREFIX: 'IDEMPOTENCY_KEY_PREFIX',
  /** Producer: largest body accepted, bytes. */
  MAX_BODY_BYTES: 'MAX_BODY_BYTES',
  DEFAULT_RUN_ID: 'DEFAULT_RUN_ID',
  /** Fault switches, all off by default; each decision is seeded per order id. */
  FAULT_SEED: 'FAULT_SEED',
  FAULT_FIRST_ATTEMPT_FAILURE_RATE: 'FAULT_FIRST_ATTEMPT_FAILURE_RATE',
  FAULT_SLOW_RATE: 'FAULT_SLOW_RATE',
  FAULT_SLOW_MS: 'FAULT_SLOW_MS',
  /** Orders whose id starts with this prefix always fail (poison); empty disables it. */
  FAULT_POISON_PREFIX: 'FAULT_POISON_PREFIX',
  /** Producer: fraction of orders whose first send's answer from SQS is lost (the message is sent). */
  FAULT_LOST_SEND_ANSWER_RATE: 'FAULT_LOST_SEND_ANSWER_RATE',
  /** Consumer: fraction of orders whose first receive exits the process right after the effect. */
  FAULT_CRASH_AFTER_EFFECT_RATE: 'FAULT_CRASH_AFTER_EFFECT_RATE',
  /** Consumer: orders whose id starts with this fail every receive after the effect step. */
  FAULT_FAIL_AFTER_EFFECT_PREFIX: 'FAULT_FAIL_AFTER_EFFECT_PREFIX',
  POWERTOOLS_SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
  POWERTOOLS_LOG_LEVEL: 'POWERTOOLS_LOG_LEVEL',
  /** `true` on AWS (active tracing); the local cloud sets `false` and never loads the tracer. */
  POWERTOOLS_TRACE_ENABLED: 'POWERTOOLS_TRACE_ENABLED',
} as const;
