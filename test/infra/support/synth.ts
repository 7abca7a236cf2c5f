import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { createApp } from '../../../infra/lib/create-app';
import type { OrderPipelineStack } from '../../../infra/lib/order-pipeline-stack';

export interface Synthesized {
  assembly: CloudAssembly;
  stack: OrderPipelineStack;
  template: Template;
  outdir: string;
}

/**
 * One full synthesis (esbuild bundles three functions, cdk-nag runs) into a fresh temp dir. It
 * throws when cdk-nag reports an unacknowledged finding, like `cdk synth` would.
 */
export function synthPipeline(context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'infra-synth-'));
  const { app, stack } = createApp({ outdir, context });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { assembly, stack, template, outdir };
}
