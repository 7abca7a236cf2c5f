/** Something a test starts and must stop: a cloud, a target, a proxy (`stop`), or DynamoDB alone (`close`). */
export type Stoppable = { stop(): unknown } | { close(): unknown };

/**
 * The starts of a describe's beforeAll, each stopped by stopAll once it has started: also one that
 * had not started yet when beforeAll's timeout passed. A test that keeps only what beforeAll
 * assigned after its `await` stops nothing then, and the start goes on: its servers and threads
 * kept jest's process from exiting, for good ("Jest did not exit one second after the test run
 * has completed"); on two cores jest runs the files in its own process, so the whole run hung.
 */
export class Starts {
  private readonly kept: Array<Promise<Stoppable | undefined>> = [];

  /** `starting`, kept to be stopped; a start that fails has stopped its parts itself. */
  keep<T extends Stoppable>(starting: Promise<T>): Promise<T> {
    this.kept.push(starting.catch(() => undefined));
    return starting;
  }

  /**
   * Stops each kept start once it has started, the last kept first (a later one may use an earlier
   * one, as a target uses the services' endpoint); every one is stopped, and the first failure
   * is thrown after.
   */
  async stopAll(): Promise<void> {
    const failures: unknown[] = [];
    for (const starting of this.kept.splice(0).reverse()) {
      const started = await starting;
      if (started === undefined) continue;
      try {
        await ('stop' in started ? started.stop() : started.close());
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}

/**
 * For a describe whose beforeAll starts a cloud (or anything Stoppable): call it in the describe's
 * body, and pass each start through what it returns (`cloud = await keep(startLocalCloud(...))`);
 * an afterAll registered here stops them all, once started, even when beforeAll's timeout passed
 * before the start ended. The describe's own afterAll then stops none of them.
 */
export function stopsAfterAll(
  timeoutMs = 90_000,
): <T extends Stoppable>(starting: Promise<T>) => Promise<T> {
  const starts = new Starts();
  afterAll(() => starts.stopAll(), timeoutMs);
  return (starting) => starts.keep(starting);
}
