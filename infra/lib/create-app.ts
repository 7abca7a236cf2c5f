import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type PipelineConfig, pipelineConfig } from '../../shared/src/config/pipeline';
import { type Deployment, describeDeployment } from '../../shared/src/deployment';
import { OrderPipelineStack } from './order-pipeline-stack';

export interface CreateAppOptions extends AppProps {
  config?: PipelineConfig;
  /** What to build; by default the description of `config` (tests swap the handler entries). */
  deployment?: Deployment;
}

/**
 * The CDK app: the pipeline stack plus cdk-nag's AwsSolutions pack, so any unacknowledged
 * finding fails `cdk synth` (and `cdk deploy`) before anything reaches an account.
 */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: OrderPipelineStack } {
  const { config = pipelineConfig, deployment = describeDeployment(config), ...appProps } = options;
  const app = new App(appProps);
  const retainData = ['true', true].includes(app.node.tryGetContext('retainData'));
  const alarmEmail: unknown = app.node.tryGetContext('alarmEmail');
  const stack = new OrderPipelineStack(app, deployment.stackName, {
    deployment,
    retainData,
    ...(typeof alarmEmail === 'string' && alarmEmail !== '' ? { alarmEmail } : {}),
    description: 'Order pipeline lab: SQS FIFO vs standard with idempotent Lambda consumers',
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT,
      region: process.env.CDK_DEFAULT_REGION,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
