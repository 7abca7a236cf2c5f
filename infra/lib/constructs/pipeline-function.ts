import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PipelineFunctionProps {
  /** Physical function name; also fixes the log group name `/aws/lambda/<name>`. */
  functionName: string;
  /** Absolute path of the handler module (exports `handler`). */
  entry: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  /** Every variable the handler reads, Powertools' included (from its FunctionSpec). */
  environment: Record<string, string>;
  /**
   * Log retention.
   * @default RetentionDays.TWO_WEEKS: long enough to compare runs, short enough to cost little.
   */
  logRetention?: RetentionDays;
  /**
   * What happens to the log group on `cdk destroy`.
   * @default RemovalPolicy.DESTROY: a lab stack should leave nothing behind.
   */
  logRemovalPolicy?: RemovalPolicy;
}

/**
 * Every Lambda function of the pipeline, with the defaults in one place. The role is built here
 * rather than left to CDK's default so it carries no AWS managed policy: it may write only to its
 * own log group, and callers add exactly the grants the function needs.
 */
export class PipelineFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;
  /** The handler module bundled (the template holds only the bundle's asset hash). */
  readonly entry: string;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.entry = props.entry;

    /**
     * Log group created with the function, so retention and removal are set up front instead of
     * Lambda creating a never-expiring group on the first invocation.
     */
    this.logGroup = new LogGroup(this, 'log-group', {
      logGroupName: `/aws/lambda/${props.functionName}`,
      retention: props.logRetention ?? RetentionDays.TWO_WEEKS,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.functionName}`,
    });
    // CreateLogGroup is not granted: the group exists already, created above.
    this.role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new NodejsFunction(this, 'function', {
      functionName: props.functionName,
      entry: props.entry,
      handler: 'handler',
      /**
       * Runtime: the newest Node.js the installed aws-cdk-lib knows, pinned explicitly (not
       * NODEJS_LATEST) so a CDK upgrade never changes the runtime without a code change.
       */
      runtime: Runtime.NODEJS_24_X,
      /** Architecture: Graviton, about 20% cheaper per GB-second than x86_64 for the same code. */
      architecture: Architecture.ARM_64,
      timeout: Duration.seconds(props.timeoutSeconds),
      memorySize: props.memorySizeMb,
      role: this.role,
      logGroup: this.logGroup,
      /** Log format: JSON, so Logs Insights can filter on fields without parsing. */
      loggingFormat: LoggingFormat.JSON,
      /**
       * Active tracing: Lambda samples and records each invocation in X-Ray, and the handlers'
       * Powertools Tracer adds the SDK calls and the order ids as annotations, so one order can be
       * followed from the API through both queues.
       */
      tracing: Tracing.ACTIVE,
      environment: {
        ...props.environment,
        /**
         * Source maps: stack traces in the logs point at the TypeScript lines. Only the bundle
         * has them, so this is the one variable the bundler's side sets.
         */
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        /** Bundling: the esbuild npm package on this machine, never a Docker image. */
        forceDockerBundling: false,
        /**
         * Everything bundled, the AWS SDK included: the function runs the exact SDK and
         * Powertools versions the tests ran, not whatever the runtime image ships.
         */
        externalModules: [],
        format: OutputFormat.CJS,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions: AWS requires Resource "*" for them.',
    });
  }
}
