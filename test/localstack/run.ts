import { spawnSync } from 'node:child_process';

/**
 * `npm run test:localstack`: the integration suite against LocalStack in Docker, started by
 * testcontainers. Without a reachable Docker engine it prints one line saying so and exits 0
 * without running (and without counting) a single test: skipped, not passed.
 *
 * The image is pinned: LocalStack images published from March 2026 on refuse to start without
 * an auth token, 4.14.0 is the last community release that starts without one. With
 * LOCALSTACK_AUTH_TOKEN set, it is passed to the container (and LOCALSTACK_IMAGE may name a newer
 * image).
 */
export const LOCALSTACK_IMAGE = process.env.LOCALSTACK_IMAGE ?? 'localstack/localstack:4.14.0';

async function dockerUnavailableReason(): Promise<string | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer in 15 s')), 15_000),
      ),
    ]);
    await client.info;
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

async function main(): Promise<number> {
  const reason = await dockerUnavailableReason();
  if (reason) {
    process.stdout.write(
      `localstack: skipped, no Docker engine reachable (${reason}); run on a machine with Docker\n`,
    );
    return 0;
  }
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  process.stdout.write(`localstack: starting ${LOCALSTACK_IMAGE}\n`);
  let container = new LocalstackContainer(LOCALSTACK_IMAGE).withEnvironment({
    SERVICES: 'sqs,dynamodb',
  });
  if (process.env.LOCALSTACK_AUTH_TOKEN) {
    container = container.withEnvironment({
      LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN,
    });
  }
  const started = await container.start();
  try {
    const endpoint = started.getConnectionUri();
    process.stdout.write(`localstack: ready at ${endpoint}\n`);
    const result = spawnSync(
      'npx',
      // --verbose lists every test, so the ones differences.ts skips on LocalStack show with
      // their reason in the output.
      ['jest', '--selectProjects', 'integration', '--verbose', ...process.argv.slice(2)],
      {
        stdio: 'inherit',
        env: { ...process.env, TEST_TARGET: 'localstack', LOCALSTACK_ENDPOINT: endpoint },
      },
    );
    return result.status ?? 1;
  } finally {
    await started.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`localstack: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
