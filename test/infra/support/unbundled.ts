import { resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../../infra/lib/create-app';
import { type PipelineConfig, pipelineConfig } from '../../../shared/src/config/pipeline';
import { describeDeployment } from '../../../shared/src/deployment';

const NOOP = resolve(__dirname, '../fixtures/noop-handler.ts');

/** Builds the stack without bundling (empty bundling-stacks), for construct-level checks. */
export function buildUnbundled(
  options: { config?: PipelineConfig; context?: Record<string, unknown> } = {},
): { template: () => Template } {
  const deployment = describeDeployment(options.config ?? pipelineConfig);
  const { stack } = createApp({
    deployment: {
      ...deployment,
      producer: { ...deployment.producer, entry: NOOP },
      consumers: {
        fifo: { ...deployment.consumers.fifo, entry: NOOP },
        standard: { ...deployment.consumers.standard, entry: NOOP },
      },
    },
    context: { ...options.context, 'aws:cdk:bundling-stacks': [] },
  });
  return { template: () => Template.fromStack(stack) };
}
