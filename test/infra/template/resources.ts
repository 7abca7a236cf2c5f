import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { STACK_OUTPUTS } from '../../../shared/src/config/stack-outputs';
import { orderJsonSchema } from '../../../shared/src/order';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import type { Synthesized } from '../support/synth';

/** Registers the tests; `get` returns the one synthesis shared by template.test.ts. */
export function resourceTests(get: () => Synthesized): void {
  let s!: Synthesized;
  beforeAll(() => {
    s = get();
  });

  const fnProps = (name: string) =>
    s.template.findResources('AWS::Lambda::Function', {
      Properties: { FunctionName: name },
    });

  describe('functions', () => {
    const names = [
      `${pipelineConfig.stackName}-${pipelineConfig.producer.functionId}`,
      ...QUEUE_KINDS.map(
        (k) => `${pipelineConfig.stackName}-${pipelineConfig.consumers[k].functionId}`,
      ),
    ];

    it.each(names)('runs %s on Node.js 24, ARM64, JSON logs, Powertools env', (name) => {
      s.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: name,
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
        Environment: {
          Variables: Match.objectLike({
            [ENV.POWERTOOLS_SERVICE_NAME]: Match.stringLikeRegexp('.+'),
            [ENV.POWERTOOLS_LOG_LEVEL]: 'INFO',
            [ENV.LEDGER_TABLE_NAME]: Match.anyValue(),
          }),
        },
      });
      s.template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/lambda/${name}`,
        RetentionInDays: 14,
      });
    });

    it("gives roles no AWS managed policy and no wildcard resource but X-Ray's", () => {
      for (const role of Object.values(s.template.findResources('AWS::IAM::Role'))) {
        const arns = JSON.stringify(role.Properties.ManagedPolicyArns ?? []);
        if (!JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('apigateway')) {
          expect(arns).toBe('[]');
        }
      }
      let xray = 0;
      for (const policy of Object.values(s.template.findResources('AWS::IAM::Policy'))) {
        for (const st of policy.Properties.PolicyDocument.Statement) {
          expect(JSON.stringify(st.Action)).not.toMatch(/:\*"/);
          // X-Ray's two write actions have no resource-level permissions: "*" is the only form.
          if (
            JSON.stringify(st.Action) === '["xray:PutTraceSegments","xray:PutTelemetryRecords"]'
          ) {
            expect(st.Resource).toBe('*');
            xray++;
            continue;
          }
          expect(JSON.stringify(st.Resource)).not.toMatch(/"\*"|:\*"/);
        }
      }
      expect(xray).toBe(3);
    });

    it.each(names)('traces %s actively in X-Ray with the Powertools tracer on', (name) => {
      s.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: name,
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: Match.objectLike({ [ENV.POWERTOOLS_TRACE_ENABLED]: 'true' }),
        },
      });
    });

    it('lets the producer send to both queues and write the ledger, not the idempotency table', () => {
      const producer = Object.keys(fnProps(`${pipelineConfig.stackName}-producer`))[0] ?? '';
      const policies = Object.values(s.template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p.Properties.Roles).includes('producerrole'),
      );
      expect(producer).not.toBe('');
      expect(policies).toHaveLength(1);
      const doc = JSON.stringify(policies[0]?.Properties.PolicyDocument);
      expect(doc).toContain('sqs:SendMessage');
      expect(doc).toMatch(/fifoqueue/);
      expect(doc).toMatch(/standardqueue/);
      expect(doc).toMatch(/ledgertable/);
      expect(doc).not.toMatch(/idempotencytable/);
      expect(doc).not.toContain('sqs:ReceiveMessage');
    });

    it.each(QUEUE_KINDS)('lets the %s consumer use only its own queue and both tables', (kind) => {
      const other = kind === 'fifo' ? 'standard' : 'fifo';
      const policies = Object.values(s.template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p.Properties.Roles).includes(`consumer${kind}functionrole`),
      );
      expect(policies).toHaveLength(1);
      const doc = JSON.stringify(policies[0]?.Properties.PolicyDocument);
      expect(doc).toMatch(new RegExp(`${kind}queue`));
      expect(doc).not.toMatch(new RegExp(`${other}queue`));
      expect(doc).toMatch(/ledgertable/);
      expect(doc).toMatch(/idempotencytable/);
      expect(doc).not.toContain('sqs:SendMessage');
    });
  });

  describe('queues', () => {
    it('encrypts every queue with SQS-managed keys and denies non-TLS access', () => {
      const queues = s.template.findResources('AWS::SQS::Queue');
      expect(Object.keys(queues)).toHaveLength(4);
      for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      const policies = Object.values(s.template.findResources('AWS::SQS::QueuePolicy'));
      expect(policies).toHaveLength(4);
      for (const p of policies) {
        expect(p.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
    });
  });

  describe('api', () => {
    it('requires an API key on both methods and validates the body and params', () => {
      const methods = s.template.findResources('AWS::ApiGateway::Method', {
        Properties: { HttpMethod: Match.stringLikeRegexp('^(POST|GET)$') },
      });
      expect(Object.keys(methods)).toHaveLength(2);
      for (const m of Object.values(methods)) {
        expect(m.Properties.ApiKeyRequired).toBe(true);
        expect(m.Properties.RequestValidatorId).toBeDefined();
      }
      s.template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestBody: true,
        ValidateRequestParameters: true,
      });
      s.template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'POST',
        RequestModels: { 'application/json': Match.anyValue() },
        RequestParameters: {
          'method.request.header.X-Run-Id': false,
          'method.request.header.Idempotency-Key': false,
        },
      });
      s.template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'GET',
        RequestParameters: { 'method.request.path.orderId': true },
      });
    });

    it('uses the shared order schema as the request model', () => {
      const model = Object.values(s.template.findResources('AWS::ApiGateway::Model'))[0];
      expect(model?.Properties.Schema).toEqual(orderJsonSchema());
    });

    it('starts the X-Ray trace at the stage', () => {
      s.template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    });

    it('throttles the stage and the usage plan, writes JSON access logs and execution logs', () => {
      const { throttlingRateLimit, throttlingBurstLimit } = pipelineConfig.api;
      s.template.hasResourceProperties('AWS::ApiGateway::Stage', {
        AccessLogSetting: {
          DestinationArn: Match.anyValue(),
          Format: Match.stringLikeRegexp('^\\{.*"requestId":"\\$context.requestId".*\\}$'),
        },
        MethodSettings: Match.arrayWith([
          Match.objectLike({
            LoggingLevel: 'ERROR',
            DataTraceEnabled: false,
            MetricsEnabled: true,
            ThrottlingRateLimit: throttlingRateLimit,
            ThrottlingBurstLimit: throttlingBurstLimit,
          }),
        ]),
      });
      s.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        Throttle: { RateLimit: throttlingRateLimit, BurstLimit: throttlingBurstLimit },
      });
      s.template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
      s.template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/apigateway/${pipelineConfig.stackName}-access`,
        RetentionInDays: 14,
      });
    });
  });

  describe('operations', () => {
    it.each(QUEUE_KINDS)('alarms when the %s DLQ holds any message', (kind) => {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        // SQS stops reporting a queue untouched for six hours, messages or not: a missing
        // datapoint keeps the alarm's state instead of turning it OK with orders in the DLQ.
        TreatMissingData: 'ignore',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${kind}queuedlq`), 'QueueName'] },
          },
        ],
      });
    });

    it.each(QUEUE_KINDS)('alarms on the age of the oldest %s message', (kind) => {
      const q = pipelineConfig.queues[kind];
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateAgeOfOldestMessage',
        Threshold: q.dlq.maxReceiveCount * q.visibilityTimeoutSeconds,
        Dimensions: [
          {
            Name: 'QueueName',
            Value: {
              'Fn::GetAtt': [Match.stringLikeRegexp(`^${kind}queue[0-9A-F]{8}$`), 'QueueName'],
            },
          },
        ],
      });
    });

    it('has a dashboard comparing both queues and both consumers', () => {
      const dash = Object.values(s.template.findResources('AWS::CloudWatch::Dashboard'))[0];
      const body = JSON.stringify(dash?.Properties.DashboardBody);
      for (const metric of [
        'ApproximateNumberOfMessagesVisible',
        'ApproximateAgeOfOldestMessage',
        'Duration',
        'Errors',
        'ConcurrentExecutions',
      ]) {
        expect(body).toContain(metric);
      }
      for (const kind of QUEUE_KINDS) expect(body).toContain(`\\"label\\":\\"${kind}\\"`);
    });

    it('declares every output the tools read by name', () => {
      const outputs = s.template.toJSON().Outputs as Record<string, unknown>;
      expect(Object.keys(outputs)).toEqual(expect.arrayContaining(Object.values(STACK_OUTPUTS)));
    });
  });
}
