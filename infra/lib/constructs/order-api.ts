import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKey,
  ApiKeySourceType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type Model,
  type RequestValidator,
  RestApi,
  UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnSamplingRule } from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import type { RouteSpec } from '../../../shared/src/deployment';
import { toCdkJsonSchema } from '../json-schema';

/** A deployment route (shared/src/deployment.ts) with the function built for it. */
export type OrderApiRoute = RouteSpec & { fn: IFunction };

/**
 * Request headers API Gateway is told about, both optional: it checks only their presence, never
 * their format, so the producer checks the format and answers 400 with the reason.
 */
const OPTIONAL_HEADERS: Record<string, Record<string, boolean>> = {
  'POST /orders': {
    'method.request.header.X-Run-Id': false,
    'method.request.header.Idempotency-Key': false,
  },
};

export interface OrderApiProps {
  routes: readonly OrderApiRoute[];
  throttlingRateLimit: number;
  throttlingBurstLimit: number;
  /** Stage name, also the last path segment of the API url. */
  stageName?: string;
  /** Access log group name, fixed so the runbook's Logs Insights queries can name it. */
  accessLogGroupName: string;
}

/**
 * The REST API in front of the producer: a request model from the shared order schema, a
 * validator, API key + usage plan, throttling, JSON access logs and execution logs.
 */
export class OrderApi extends Construct {
  readonly api: RestApi;
  readonly apiKey: ApiKey;
  readonly usagePlan: UsagePlan;
  readonly accessLogGroup: LogGroup;
  /** The request model of each route with a body schema, by `METHOD /resource`. */
  readonly models: Record<string, Model> = {};
  readonly validator: RequestValidator;
  readonly samplingRule: CfnSamplingRule;

  constructor(scope: Construct, id: string, props: OrderApiProps) {
    super(scope, id);

    this.accessLogGroup = new LogGroup(this, 'access-logs', {
      logGroupName: props.accessLogGroupName,
      retention: RetentionDays.TWO_WEEKS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const restApiName = 'order-pipeline-api';
    const stageName = props.stageName ?? 'v1';
    this.api = new RestApi(this, 'api', {
      restApiName,
      description: 'Accepts orders and puts each on the FIFO and the standard queue.',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      apiKeySourceType: ApiKeySourceType.HEADER,
      // Execution logging needs the account-level CloudWatch role; CDK creates it with the API.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName,
        throttlingRateLimit: props.throttlingRateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
        loggingLevel: MethodLoggingLevel.ERROR,
        // Request and response bodies would put order data into the execution logs.
        dataTraceEnabled: false,
        metricsEnabled: true,
        // X-Ray starts the trace at the API, so the producer's segment joins the request's.
        tracingEnabled: true,
      },
    });

    // X-Ray's default rule records the first request each second and 5% of the rest, so most
    // orders of a load would have no trace to follow. This rule records every request of this
    // stage; the producer continues the API's decision, so every order gets its producer trace.
    // Cost: one trace per request (see docs/deploy.md). Consumer invocations are sampled by
    // Lambda itself at a fixed rate no rule changes.
    this.samplingRule = new CfnSamplingRule(this, 'trace-every-order', {
      samplingRule: {
        ruleName: restApiName,
        priority: 100,
        fixedRate: 1,
        reservoirSize: 1,
        serviceName: `${restApiName}/${stageName}`,
        serviceType: 'AWS::ApiGateway::Stage',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });

    this.validator = this.api.addRequestValidator('request-validator', {
      requestValidatorName: 'body-and-params',
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    const methods = props.routes.map((route) => {
      const key = `${route.method} ${route.resource}`;
      // Resources are added segment by segment; an existing one is reused.
      let resource = this.api.root;
      for (const part of route.resource.split('/').filter(Boolean)) {
        resource = resource.getResource(part) ?? resource.addResource(part);
      }
      const pathParameters = Object.fromEntries(
        [...route.resource.matchAll(/\{(\w+)\}/g)].map((m) => [
          `method.request.path.${m[1]}`,
          true,
        ]),
      );
      if (route.body) {
        this.models[key] = this.api.addModel(`${route.body.model.toLowerCase()}-model`, {
          contentType: 'application/json',
          modelName: route.body.model,
          description: `${route.body.model}, generated from its zod schema in shared/src.`,
          schema: toCdkJsonSchema(route.body.schema),
        });
      }
      const model = this.models[key];
      return resource.addMethod(route.method, new LambdaIntegration(route.fn, { proxy: true }), {
        apiKeyRequired: true,
        requestValidator: this.validator,
        ...(model ? { requestModels: { 'application/json': model } } : {}),
        requestParameters: { ...pathParameters, ...OPTIONAL_HEADERS[key] },
      });
    });

    this.apiKey = new ApiKey(this, 'api-key', {
      description: 'Key for the load generator and curl; read it with get-api-key --include-value.',
    });
    this.usagePlan = new UsagePlan(this, 'usage-plan', {
      name: 'order-pipeline-usage-plan',
      throttle: { rateLimit: props.throttlingRateLimit, burstLimit: props.throttlingBurstLimit },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.usagePlan.addApiKey(this.apiKey);

    for (const method of methods) {
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'Callers present an API key tied to a usage plan (throttle per key); the lab has no end users to authenticate, and the load generator must run without an identity provider.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason:
            'No Cognito user pool: clients are the load generator and curl, identified by the API key; a user pool would add sign-up and token handling the experiment does not need.',
        },
      );
    }
    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level role API Gateway uses for execution logs; AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it and covers log groups API Gateway names itself.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'No WAF web ACL: the API sits behind an API key and usage-plan throttling, and a web ACL costs a fixed monthly fee that would dominate the cost of a lab stack.',
      },
    );
  }
}
