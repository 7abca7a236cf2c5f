import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CliError } from './cli/args';
import { STACK_OUTPUTS, type StackOutputKey } from './config/stack-outputs';

/**
 * Reads the deployed stack's outputs by name; a missing stack or output is the user's to fix.
 * With no region anywhere the SDK looks (AWS_REGION, the profile's config) it says only
 * "Region is missing": the error says what to give, `--region` (both `npm run load` and
 * `npm run report` take it with `--stack`) or AWS_REGION.
 */
export async function readStackOutputs(
  stackName: string,
  client: CloudFormationClient = new CloudFormationClient({}),
): Promise<Record<StackOutputKey, string | undefined>> {
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs ?? [];
  } catch (err) {
    const message = (err as Error).message;
    throw new CliError(
      message === 'Region is missing'
        ? `cannot read stack ${stackName}: no AWS region: give --region <region> or set AWS_REGION, the region the stack is deployed in`
        : `cannot read stack ${stackName}: ${message}`,
      { cause: err },
    );
  }
  const byKey = new Map(outputs.map((o) => [o.OutputKey, o.OutputValue]));
  const result = {} as Record<StackOutputKey, string | undefined>;
  for (const [key, name] of Object.entries(STACK_OUTPUTS) as [StackOutputKey, string][]) {
    result[key] = byKey.get(name);
  }
  return result;
}

export function requireOutput(
  outputs: Record<StackOutputKey, string | undefined>,
  key: StackOutputKey,
  stackName: string,
): string {
  const v = outputs[key];
  if (!v) throw new CliError(`stack ${stackName} has no output ${STACK_OUTPUTS[key]}`);
  return v;
}
