import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CliError } from '../../../shared/src/cli/args';
import { readStackOutputs, requireOutput } from '../../../shared/src/stack-outputs';

/** The deployed API's url and key value, found from the stack's outputs. */
export async function apiFromStack(
  stackName: string,
  clients: { cfn?: CloudFormationClient; apigw?: APIGatewayClient } = {},
): Promise<{ apiUrl: string; apiKey?: string }> {
  const outputs = await readStackOutputs(stackName, clients.cfn);
  const apiUrl = requireOutput(outputs, 'apiUrl', stackName);
  const keyId = outputs.apiKeyId;
  if (!keyId) return { apiUrl };
  const apigw = clients.apigw ?? new APIGatewayClient({});
  try {
    const key = await apigw.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return key.value ? { apiUrl, apiKey: key.value } : { apiUrl };
  } catch (err) {
    throw new CliError(`cannot read API key ${keyId}: ${(err as Error).message}`, { cause: err });
  }
}
