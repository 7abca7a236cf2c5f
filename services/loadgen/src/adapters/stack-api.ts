import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CliError } from '../../../../shared/src/cli/args';
import { STACK_OUTPUTS } from '../../../../shared/src/config/stack-outputs';

/** The deployed API's url and key value, found from the stack's outputs. */
export async function apiFromStack(
  stackName: string,
  clients: { cfn?: CloudFormationClient; apigw?: APIGatewayClient } = {},
): Promise<{ apiUrl: string; apiKey?: string }> {
  const cfn = clients.cfn ?? new CloudFormationClient({});
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs ?? [];
  } catch (err) {
    throw new CliError(`cannot read stack ${stackName}: ${(err as Error).message}`, { cause: err });
  }
  const get = (k: string) => outputs.find((o) => o.OutputKey === k)?.OutputValue;
  const apiUrl = get(STACK_OUTPUTS.apiUrl);
  if (!apiUrl) throw new CliError(`stack ${stackName} has no output ${STACK_OUTPUTS.apiUrl}`);
  const keyId = get(STACK_OUTPUTS.apiKeyId);
  if (!keyId) return { apiUrl };
  const apigw = clients.apigw ?? new APIGatewayClient({});
  try {
    const key = await apigw.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return key.value ? { apiUrl, apiKey: key.value } : { apiUrl };
  } catch (err) {
    throw new CliError(`cannot read API key ${keyId}: ${(err as Error).message}`, { cause: err });
  }
}
