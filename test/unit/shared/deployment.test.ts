import { type PipelineConfig, pipelineConfig } from '../../../shared/src/config/pipeline';
import { DeploymentConfigError, describeDeployment } from '../../../shared/src/deployment';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';

/** The pipeline config with one queue's redrive policy allowing `receives` receives. */
const withMaxReceiveCount = (kind: QueueKind, receives: number): PipelineConfig => {
  const c = structuredClone(pipelineConfig);
  c.queues[kind].dlq.maxReceiveCount = receives;
  return c;
};

describe("the deployment description's receive-count guidance", () => {
  it('describes the pipeline config as it is, both queues allowing at least 5 receives', () => {
    const d = describeDeployment(pipelineConfig);
    for (const kind of QUEUE_KINDS) {
      expect(d.queues[kind].dlq.maxReceiveCount).toBeGreaterThanOrEqual(5);
      // The consumer marks a failure final on the receive the queue's policy ends with.
      expect(d.consumers[kind].environment.MAX_RECEIVE_COUNT).toBe(
        String(pipelineConfig.queues[kind].dlq.maxReceiveCount),
      );
    }
  });

  it.each(QUEUE_KINDS)('refuses maxReceiveCount 4 on the %s queue', (kind) => {
    const config = withMaxReceiveCount(kind, 4);
    const name = config.queues[kind].name;
    expect(() => describeDeployment(config)).toThrow(DeploymentConfigError);
    expect(() => describeDeployment(config)).toThrow(`queue ${name}: maxReceiveCount 4 is below 5`);
  });

  it.each(QUEUE_KINDS)('accepts maxReceiveCount 5 on the %s queue', (kind) => {
    const d = describeDeployment(withMaxReceiveCount(kind, 5));
    expect(d.queues[kind].dlq.maxReceiveCount).toBe(5);
    expect(d.consumers[kind].environment.MAX_RECEIVE_COUNT).toBe('5');
  });

  it('is not lifted by the visibility waiver, which lifts only its own rule', () => {
    const config = withMaxReceiveCount('standard', 2);
    expect(() => describeDeployment(config, { waiveVisibilityGuidance: true })).toThrow(
      /maxReceiveCount 2 is below 5/,
    );
  });
});

describe("the deployment description's visibility rules", () => {
  /** The pipeline config with one consumer's timeout and its queue's visibility timeout. */
  const withTimes = (kind: QueueKind, timeoutSeconds: number, visibility: number) => {
    const c = structuredClone(pipelineConfig);
    c.consumers[kind].timeoutSeconds = timeoutSeconds;
    c.queues[kind].visibilityTimeoutSeconds = visibility;
    return c;
  };

  it.each(QUEUE_KINDS)(
    'refuses a %s consumer timeout above its queue visibility timeout, waiver or not (Lambda refuses the mapping)',
    (kind) => {
      const config = withTimes(kind, 25, 20);
      const name = config.queues[kind].name;
      for (const options of [{}, { waiveVisibilityGuidance: true }]) {
        expect(() => describeDeployment(config, options)).toThrow(
          `queue ${name}: visibility timeout 20s is below the consumer timeout 25s`,
        );
      }
    },
  );

  it('lets the waiver take a visibility timeout between 1x and 6x the consumer timeout, as Lambda does', () => {
    const d = describeDeployment(withTimes('standard', 25, 60), { waiveVisibilityGuidance: true });
    expect(d.queues.standard.visibilityTimeoutSeconds).toBe(60);
    expect(() => describeDeployment(withTimes('standard', 25, 60))).toThrow(DeploymentConfigError);
  });
});
