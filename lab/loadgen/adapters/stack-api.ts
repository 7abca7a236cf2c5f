import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CliError } from '../../../shared/src/cli/args';
import { readStackOutputs, requireOutput } from '../../../shared/src/stack-outputs';

/**
 * The deployed API's url and key value, found from the stack's outputs. The clients it makes
 * (CloudFormation, API Gateway) use `region` when given, else the SDK's (AWS_REGION, the
 * profile's); a client passed in is used as it is.
 */
export async function apiFromStack(
  stackName: string,
  clients: { cfn?: CloudFormationClient; apigw?: APIGatewayClient; region?: string } = {},
): Promise<{ apiUrl: string; apiKey?: string }> {
  const config = clients.region ? { region: clients.region } : {};
  const outputs = await readStackOutputs(
    stackName,
    clients.cfn ?? new CloudFormationClient(config),
  );
  const apiUrl = requireOutput(outputs, 'apiUrl', stackName);
  const keyId = outputs.apiKeyId;
  if (!keyId) return { apiUrl };
  const apigw = clients.apigw ?? new APIGatewayClient(config);
  try {
    const key = await apigw.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return key.value ? { apiUrl, apiKey: key.value } : { apiUrl };
  } catch (err) {
    throw new CliError(`cannot read API key ${keyId}: ${(err as Error).message}`, { cause: err });
  }
}
