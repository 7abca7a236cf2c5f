import { resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../../infra/lib/create-app';
import type { PipelineConfig } from '../../../shared/src/config/pipeline';

const NOOP = resolve(__dirname, '../fixtures/noop-handler.ts');

/** Builds the stack without bundling (empty bundling-stacks), for construct-level checks. */
export function buildUnbundled(
  options: { config?: PipelineConfig; context?: Record<string, unknown> } = {},
): { template: () => Template } {
  const { stack } = createApp({
    config: options.config,
    entries: { producer: NOOP, consumer: NOOP },
    context: { ...options.context, 'aws:cdk:bundling-stacks': [] },
  });
  return { template: () => Template.fromStack(stack) };
}
