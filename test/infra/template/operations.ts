import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Dashboard, GraphWidget, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import {
  CONSUMER_METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  QUEUE_DIMENSION,
} from '../../../shared/src/metrics';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import type { Synthesized } from '../support/synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by shape in each assertion
type Resource = { Properties: Record<string, any> };

/** Registers the tests; `get` returns the one synthesis shared by template.test.ts. */
export function operationsTests(get: () => Synthesized): void {
  let s!: Synthesized;
  let topicId = '';
  let alarms: Resource[] = [];
  beforeAll(() => {
    s = get();
    topicId = Object.keys(s.template.findResources('AWS::SNS::Topic'))[0] ?? '';
    alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
  });

  const sorted = (dims: { Name: string }[]) =>
    JSON.stringify([...dims].sort((p, q) => (p.Name < q.Name ? -1 : 1)));
  const alarmOn = (metricName: string, dimensions: { Name: string; Value: unknown }[]) =>
    alarms.filter(
      (a) =>
        a.Properties.MetricName === metricName &&
        sorted(a.Properties.Dimensions ?? []) === sorted(dimensions),
    );

  describe('alarm topic', () => {
    it('is one SNS topic encrypted with its own rotating KMS key', () => {
      s.template.resourceCountIs('AWS::SNS::Topic', 1);
      const keyId = Object.keys(s.template.findResources('AWS::KMS::Key'))[0];
      s.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      s.template.hasResourceProperties('AWS::SNS::Topic', {
        TopicName: `${pipelineConfig.stackName}-alarms`,
        KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
    });

    it("lets only this account's CloudWatch alarms publish and encrypt, over TLS only", () => {
      const policy = Object.values(s.template.findResources('AWS::SNS::TopicPolicy'))[0] as
        | Resource
        | undefined;
      const statements = policy?.Properties.PolicyDocument.Statement as Record<string, unknown>[];
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'sns:Publish',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Condition: expect.objectContaining({
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          }),
        }),
      );
      s.template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Condition: Match.objectLike({
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              }),
            }),
          ]),
        },
      });
    });
  });

  describe('alarms', () => {
    it('notify the topic when they fire and when they recover, every one of them', () => {
      expect(alarms).toHaveLength(8);
      for (const a of alarms) {
        expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
        expect(a.Properties.OKActions).toEqual([{ Ref: topicId }]);
        expect(a.Properties.AlarmDescription).toEqual(expect.stringMatching(/.{40,}/));
      }
    });

    it('fires on one out-of-order apply on FIFO, from the consumer metric', () => {
      const found = alarmOn(CONSUMER_METRICS.outOfOrderApplies.name, [
        { Name: 'service', Value: METRICS_SERVICE },
        { Name: QUEUE_DIMENSION, Value: 'fifo' },
      ]);
      expect(found).toHaveLength(1);
      expect(found[0]?.Properties).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      // Standard reorders by design: an alarm there would fire on every run.
      expect(
        alarmOn(CONSUMER_METRICS.outOfOrderApplies.name, [
          { Name: 'service', Value: METRICS_SERVICE },
          { Name: QUEUE_DIMENSION, Value: 'standard' },
        ]),
      ).toHaveLength(0);
    });

    it.each(QUEUE_KINDS)('fires when the %s consumer fails whole invocations', (kind) => {
      const fn = `${pipelineConfig.stackName}-${pipelineConfig.consumers[kind].functionId}`;
      const fnId = Object.keys(
        s.template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: fn } }),
      )[0];
      const found = alarmOn('Errors', [{ Name: 'FunctionName', Value: { Ref: fnId } }]);
      expect(found).toHaveLength(1);
      expect(found[0]?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        Threshold: 0,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
      });
    });
  });

  describe('dashboard', () => {
    let body = '';
    beforeAll(() => {
      const dash = Object.values(s.template.findResources('AWS::CloudWatch::Dashboard'))[0];
      body = JSON.stringify(dash?.Properties.DashboardBody);
    });

    it.each(Object.values(CONSUMER_METRICS).map((m) => m.name))(
      'graphs %s for FIFO and standard side by side',
      (name) => {
        for (const kind of QUEUE_KINDS) {
          // One metric array per line: [namespace, name, dim, value, dim, value, options].
          expect(body).toContain(
            `[\\"${METRICS_NAMESPACE}\\",\\"${name}\\",\\"${QUEUE_DIMENSION}\\",\\"${kind}\\",\\"service\\",\\"${METRICS_SERVICE}\\"`,
          );
        }
      },
    );

    it('graphs the latency of each queue as exactly p50 and p99, never an average', () => {
      const dash = Object.values(s.template.findResources('AWS::CloudWatch::Dashboard'))[0];
      const stats = latencyStats(parseDashboardBody(dash?.Properties.DashboardBody));
      expect(stats).toEqual({ fifo: ['p50', 'p99'], standard: ['p50', 'p99'] });
    });

    it('the latency check fails on a dashboard CDK synthesises with an average', () => {
      const stack = new Stack(new App(), 'average-dashboard');
      const latency = (kind: string, statistic: string) =>
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: CONSUMER_METRICS.acceptedToAppliedLatency.name,
          dimensionsMap: { [QUEUE_DIMENSION]: kind, service: METRICS_SERVICE },
          statistic,
        });
      new Dashboard(stack, 'dashboard').addWidgets(
        new GraphWidget({
          left: QUEUE_KINDS.flatMap((kind) => [latency(kind, 'p50'), latency(kind, 'Average')]),
        }),
      );
      const dash = Object.values(
        Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'),
      )[0];
      // CDK leaves the widget default (Average) out of the line: the old "no Average" regex
      // could never match it. The parsed statistics show it.
      const stats = latencyStats(parseDashboardBody(dash?.Properties.DashboardBody));
      expect(stats).toEqual({ fifo: ['Average', 'p50'], standard: ['Average', 'p50'] });
    });
  });

  describe('tracing', () => {
    it('records every request of the API stage in X-Ray (a rule at rate 1, not the 5% default)', () => {
      const api = Object.values(s.template.findResources('AWS::ApiGateway::RestApi'))[0];
      const stage = Object.values(s.template.findResources('AWS::ApiGateway::Stage'))[0];
      expect(stage?.Properties.TracingEnabled).toBe(true);
      const rules = Object.values(s.template.findResources('AWS::XRay::SamplingRule'));
      expect(rules).toHaveLength(1);
      // X-Ray names an API stage's service "<api name>/<stage name>": a rule naming anything
      // else matches no request, and the default rule samples instead.
      expect(rules[0]?.Properties.SamplingRule).toMatchObject({
        ServiceName: `${api?.Properties.Name}/${stage?.Properties.StageName}`,
        ServiceType: 'AWS::ApiGateway::Stage',
        FixedRate: 1,
        HTTPMethod: '*',
        URLPath: '*',
        Host: '*',
        ResourceARN: '*',
      });
      expect(String(rules[0]?.Properties.SamplingRule.RuleName).length).toBeLessThanOrEqual(32);
    });
  });
}

/**
 * The dashboard body as JSON. CDK writes it as a string, or as an Fn::Join when it holds
 * tokens (a queue or function name): those become a placeholder, always inside a JSON string.
 */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by shape
export function parseDashboardBody(body: unknown): any {
  if (typeof body === 'string') return JSON.parse(body);
  const join = (body as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`unexpected DashboardBody: ${JSON.stringify(body).slice(0, 200)}`);
  return JSON.parse(
    join[1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]),
  );
}

/**
 * The statistic of each latency line of the dashboard, per queue, sorted. A line's last element
 * is its options when it is an object; no `stat` there means the widget's default, Average.
 */
export function latencyStats(dashboard: {
  widgets: Array<{ properties?: { metrics?: unknown[][] } }>;
}): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const w of dashboard.widgets) {
    for (const line of w.properties?.metrics ?? []) {
      if (line[1] !== CONSUMER_METRICS.acceptedToAppliedLatency.name) continue;
      const queue = String(line[line.indexOf(QUEUE_DIMENSION) + 1]);
      const last = line[line.length - 1];
      const stat =
        typeof last === 'object' && last !== null && 'stat' in last
          ? String((last as { stat: unknown }).stat)
          : 'Average';
      out[queue] = [...(out[queue] ?? []), stat].sort();
    }
  }
  return out;
}
