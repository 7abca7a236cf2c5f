import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IAlarm, IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /** SNS topic name. */
  topicName: string;
  /** Subscribes this address (it must confirm the e-mail AWS sends). */
  email?: string;
}

/**
 * The SNS topic every alarm of the pipeline notifies, encrypted with its own KMS key. Not the AWS
 * managed `alias/aws/sns` key: its policy cannot be edited, so CloudWatch could not encrypt the
 * notifications it publishes and the alarms would fail silently.
 */
export class AlarmTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  readonly action: IAlarmAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);
    const alarmArns = `arn:${partition}:cloudwatch:${region}:${account}:alarm:*`;
    const fromThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': alarmArns },
    };

    this.key = new Key(this, 'key', {
      description: `Encrypts the ${props.topicName} alarm notifications`,
      enableKeyRotation: true,
      // Nothing is stored under this key: notifications are encrypted in transit through SNS only.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsEncryptNotifications',
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccountsAlarms,
      }),
    );

    this.topic = new Topic(this, 'topic', {
      topicName: props.topicName,
      displayName: 'Order pipeline alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    // enforceSSL writes a topic policy, which replaces SNS's default one: CloudWatch must be
    // allowed explicitly, and only for this account's alarms.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    this.action = new SnsAction(this.topic);
  }

  /** The alarm notifies when it fires and when it recovers. */
  notify(
    alarm: IAlarm & { addAlarmAction(a: IAlarmAction): void; addOkAction(a: IAlarmAction): void },
  ): void {
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
  }
}
