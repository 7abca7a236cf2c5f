import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { readStackOutputs } from '../../../shared/src/stack-outputs';

describe('readStackOutputs', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('says to give --region or set AWS_REGION when the SDK finds no region, not only "Region is missing" (it named AWS_REGION only, though both the load and the report take --region)', async () => {
    // Prepare: no region in the environment nor in a config file.
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    delete process.env.AWS_PROFILE;
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    const client = new CloudFormationClient({});

    // Act + Assess
    await expect(readStackOutputs('OrderPipelineLab', client)).rejects.toThrow(
      'cannot read stack OrderPipelineLab: no AWS region: give --region <region> or set AWS_REGION, the region the stack is deployed in',
    );
    client.destroy();
  });
});
