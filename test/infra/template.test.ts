import { type Synthesized, synthPipeline } from './support/synth';
import { cdkNagTests } from './template/cdk-nag';
import { operationsTests } from './template/operations';
import { pipelineConfigTests } from './template/pipeline-config';
import { resourceTests } from './template/resources';

// One full synthesis (esbuild bundles three functions, cdk-nag runs) shared by every template
// assertion: each synthesis costs seconds of CPU on a shared machine.
let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synthPipeline();
}, 90_000);

const get = (): Synthesized => synthesized;

describe('resources', () => resourceTests(get));
describe('alarms, notifications and dashboard', () => operationsTests(get));
describe('agreement with shared/src/config/pipeline.ts', () => pipelineConfigTests(get));
describe('cdk-nag AwsSolutions on the app', () => cdkNagTests(get));
