import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { SK_PREFIX } from '../../shared/src/ledger';
import {
  getOrder,
  ledgerRecords,
  newRunId,
  order,
  postOrder,
  waitFor,
} from './support/pipeline-client';
import { stopsAfterAll } from './support/stop-after-all';
import { startTargetNamed, type Target, UnsupportedTargetError } from './support/target';

/**
 * The `localstack` target deploys the pipeline onto SQS and DynamoDB at an external endpoint and
 * runs the producer, consumers and mappings here. This machine has no Docker, so the endpoint is
 * a stand-in: a second local cloud with services only (our SQS emulator + dynalite behind the
 * edge). What is shown is the deployment path itself: resources made over the SDK at someone
 * else's endpoint, reused on a second deployment, and an order processed through them.
 */
describe('the localstack target against an external SQS + DynamoDB endpoint', () => {
  const keep = stopsAfterAll();
  let services: LocalCloud;
  let first: Target | undefined;
  let second: Target | undefined;
  const savedEndpoint = process.env.LOCALSTACK_ENDPOINT;

  beforeAll(async () => {
    services = await keep(
      startLocalCloud({ port: 0, servicesOnly: true, seed: 31, faults: 'none' }),
    );
    process.env.LOCALSTACK_ENDPOINT = services.edgeUrl;
    first = await keep(startTargetNamed('localstack', { seed: 31 }));
  }, 60_000);

  afterAll(() => {
    if (savedEndpoint === undefined) delete process.env.LOCALSTACK_ENDPOINT;
    else process.env.LOCALSTACK_ENDPOINT = savedEndpoint;
  });

  it('creates both queues and their DLQs at the endpoint, from the shared config', async () => {
    const listed = await first!.sqs.send(new ListQueuesCommand({}));
    const urls = listed.QueueUrls ?? [];
    for (const url of Object.values(first!.queueUrls)) {
      expect(url.startsWith('http')).toBe(true);
      expect(urls).toContain(url);
    }
    expect(first!.capabilities).toEqual({ clock: false, consumerEnv: true });
  });

  it('processes a posted order once on each queue through the endpoint', async () => {
    // Prepare
    const target = first!;
    const runId = newRunId('external');

    // Act
    const posted = await postOrder(target, order('cust-external', 1), { runId });

    // Assess
    expect(posted.status).toBe(202);
    const orderId = posted.json.orderId as string;
    const status = await waitFor(
      'the order processed on both queues',
      () => getOrder(target, orderId),
      (r) => r.json.fifo?.status === 'processed' && r.json.standard?.status === 'processed',
    );
    expect(status.status).toBe(200);
    expect(await ledgerRecords(target, runId, SK_PREFIX.effect('fifo'))).toHaveLength(1);
    expect(await ledgerRecords(target, runId, SK_PREFIX.effect('standard'))).toHaveLength(1);
  }, 30_000);

  it('deploys again onto the same endpoint, reusing the queues and tables', async () => {
    // Prepare: the first deployment stops its functions; its queues and tables stay.
    await first!.stop();
    const firstUrls = first!.queueUrls;
    first = undefined;

    // Act
    second = await keep(startTargetNamed('localstack', { seed: 32 }));

    // Assess
    expect(second.queueUrls).toEqual(firstUrls);
    const runId = newRunId('external-again');
    const posted = await postOrder(second, order('cust-external', 2), { runId });
    expect(posted.status).toBe(202);
    await waitFor(
      'the second deployment processing an order',
      () => getOrder(second!, posted.json.orderId as string),
      (r) => r.json.fifo?.status === 'processed' && r.json.standard?.status === 'processed',
    );
  }, 60_000);

  it('refuses to move a clock it does not have', async () => {
    await expect(second!.advanceClock(1000)).rejects.toBeInstanceOf(UnsupportedTargetError);
  });
});
