/**
 * CloudFormation output keys of the deployed stack. The load generator, the report and the
 * `aws` integration target find the stack by name and read these; infra/ declares them.
 */
export const STACK_OUTPUTS = {
  apiUrl: 'ApiUrl',
  apiKeyId: 'ApiKeyId',
  fifoQueueUrl: 'FifoQueueUrl',
  standardQueueUrl: 'StandardQueueUrl',
  fifoDlqUrl: 'FifoDlqUrl',
  standardDlqUrl: 'StandardDlqUrl',
  ledgerTableName: 'LedgerTableName',
  idempotencyTableName: 'IdempotencyTableName',
  dashboardName: 'DashboardName',
  alarmTopicArn: 'AlarmTopicArn',
} as const;

export type StackOutputKey = keyof typeof STACK_OUTPUTS;
