import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FunctionDefinition, LocalFunction } from '../../local/function-runtime';
import { probeDefinition, warmOutcome } from './support/function-probe';

/**
 * What Lambda's platform writes and answers around a function's code: INIT_REPORT lines for an
 * init that failed, the lines for a runtime that exited, the time-out and out-of-memory answers,
 * and the function's concurrency held while environments are replaced.
 */

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const INIT_REPORT = (phase: string, status: string) =>
  new RegExp(`^INIT_REPORT Init Duration: \\d+\\.\\d{2} ms\\tPhase: ${phase}\\tStatus: ${status}$`);

const started: LocalFunction[] = [];
afterAll(async () => {
  await Promise.all(started.map((f) => f.stop(1000)));
});

/** The probe in one environment with a 5 s timeout, its log lines kept in `lines`. */
function probe(name: string, lines: string[], def: Partial<FunctionDefinition> = {}) {
  const f = new LocalFunction(
    probeDefinition(name, { onLog: (_fn, line) => lines.push(line), ...def }),
  );
  started.push(f);
  return f;
}

describe("Lambda's platform lines and answers", () => {
  it('writes INIT_REPORT for an init that fails, in the init phase and again for the init run within the invocation', async () => {
    // Prepare: a module that throws every time it loads (an Error: posted as "Error", which
    // Lambda names Runtime.Unknown), and one that exits while it loads.
    const thrown: string[] = [];
    const throwing = probe('init-report-throws', thrown, {
      env: { PROBE_INIT_THROW: 'init fails every time' },
    });
    const warmedLines: string[] = [];
    const warmed = probe('init-report-warm', warmedLines, {
      env: { PROBE_INIT_THROW: 'init fails every time' },
    });
    const exited: string[] = [];
    const exiting = probe('init-report-exits', exited, { env: { PROBE_INIT_EXIT: '3' } });

    // Act
    const failed = await throwing.invoke({ mode: 'echo' });
    const warm = await warmOutcome(warmed);
    const exit = await exiting.invoke({ mode: 'echo' });

    // Assess: one line per init, the environment's own (Phase: init) then the one run again
    // within the invocation (Phase: invoke); warm() is an init phase alone. An exit while
    // loading is Runtime.ExitError, and the invocation that answers it gets Lambda's two lines
    // for a runtime that exited: the message naming the request, then the type.
    expect(failed).toMatchObject({ ok: false, error: { errorType: 'Error' } });
    expect(thrown.filter((l) => l.startsWith('INIT_REPORT'))).toEqual([
      expect.stringMatching(INIT_REPORT('init', 'error\\tError Type: Runtime\\.Unknown')),
      expect.stringMatching(INIT_REPORT('invoke', 'error\\tError Type: Runtime\\.Unknown')),
    ]);
    expect(warm).toMatch(/failed to initialise: Error: init fails every time$/);
    expect(warmedLines.filter((l) => l.startsWith('INIT_REPORT'))).toEqual([
      expect.stringMatching(INIT_REPORT('init', 'error\\tError Type: Runtime\\.Unknown')),
    ]);
    const message = exit.ok ? '' : exit.error.errorMessage;
    expect(message).toMatch(
      new RegExp(`^RequestId: ${UUID} Error: Runtime exited with error: exit status 3$`),
    );
    expect(exited.filter((l) => l.startsWith('INIT_REPORT') || l.includes('Runtime'))).toEqual([
      expect.stringMatching(INIT_REPORT('init', 'error\\tError Type: Runtime\\.ExitError')),
      expect.stringMatching(INIT_REPORT('invoke', 'error\\tError Type: Runtime\\.ExitError')),
      message,
      'Runtime.ExitError',
    ]);
  }, 60_000);

  it('writes the message and the type of a runtime that exited under an invocation, naming its request', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'exit-lines-'));
    const lines: string[] = [];
    const f = probe('exit-lines', lines);
    await f.warm();

    try {
      // Act: the handler writes the id it was given and exits with status 2.
      const result = await f.invoke({ mode: 'exit-with-id', file: join(dir, 'id'), code: 2 });
      const id = await readFile(join(dir, 'id'), 'utf8');

      // Assess
      const exited = `RequestId: ${id} Error: Runtime exited with error: exit status 2`;
      expect(result).toMatchObject({
        ok: false,
        error: { errorType: 'Runtime.ExitError', errorMessage: exited },
      });
      expect(lines.slice(-2)).toEqual([exited, 'Runtime.ExitError']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("answers a time-out as Lambda's service words it, naming the request", async () => {
    // Prepare: a 1 s function.
    const f = probe('timeout-words', [], { timeoutSeconds: 1 });
    await f.warm();

    // Act
    const result = await f.invoke({ mode: 'spin', ms: 5000 });

    // Assess
    expect(result).toMatchObject({
      ok: false,
      timedOut: true,
      error: {
        errorType: 'Sandbox.Timedout',
        errorMessage: expect.stringMatching(
          new RegExp(`^RequestId: ${UUID} Error: Task timed out after 1\\.00 seconds$`),
        ),
      },
    });
  }, 30_000);

  it("answers an environment that outgrew its memory as Lambda's service answers one killed for it", async () => {
    // Prepare: memory 256 MB, the cap of the environment's heap.
    const lines: string[] = [];
    const f = probe('out-of-memory', lines, { timeoutSeconds: 30 });

    // Act
    const over = await f.invoke({ mode: 'hold', mb: 320 });
    const after = await f.invoke({ mode: 'echo' });

    // Assess: Runtime.OutOfMemory, "signal: killed", not Node's wording, with Lambda's two
    // lines; the next invocation runs in a fresh environment.
    const killed = new RegExp(
      `^RequestId: ${UUID} Error: Runtime exited with error: signal: killed$`,
    );
    expect(over).toMatchObject({
      ok: false,
      timedOut: false,
      error: { errorType: 'Runtime.OutOfMemory', errorMessage: expect.stringMatching(killed) },
    });
    expect(lines.slice(-2)).toEqual([
      over.ok ? '' : over.error.errorMessage,
      'Runtime.OutOfMemory',
    ]);
    expect(after).toMatchObject({ ok: true, result: { invocations: 1 } });
  }, 60_000);
});

describe("the function's concurrency", () => {
  it('runs no invocation over it when one comes while a failed environment is being replaced', async () => {
    // Prepare: one environment at most; a module whose first load fails (it writes a marker
    // first) and whose handler notes its start and end in a file, 300 ms apart.
    const dir = await mkdtemp(join(tmpdir(), 'concurrency-'));
    const module = join(dir, 'counted.ts');
    await writeFile(
      module,
      [
        "import { appendFileSync, existsSync, writeFileSync } from 'node:fs';",
        "import { join } from 'node:path';",
        'const dir = process.env.COUNT_DIR as string;',
        "if (!existsSync(join(dir, 'marker'))) {",
        "  writeFileSync(join(dir, 'marker'), 'failed once');",
        "  throw new Error('first load fails');",
        '}',
        'export const handler = async () => {',
        "  appendFileSync(join(dir, 'runs'), 'start\\n');",
        '  await new Promise((r) => setTimeout(r, 300));',
        "  appendFileSync(join(dir, 'runs'), 'end\\n');",
        '  return null;',
        '};',
        '',
      ].join('\n'),
    );
    const f = probe('concurrency-one', [], { modulePath: module, env: { COUNT_DIR: dir } });
    // A second invocation called from a microtask right after the failed environment is taken
    // out of service, before the init is run again in a fresh one (the window between a check
    // of the environments and the replacement's taking its place).
    const internals = f as unknown as { retire: (env: unknown) => void };
    const retire = internals.retire.bind(f);
    let second: Promise<unknown> | undefined;
    internals.retire = (env) => {
      retire(env);
      if (!second) queueMicrotask(() => (second = f.invoke({})));
    };

    try {
      // Act
      const first = await f.invoke({});
      await second;
      const runs = (await readFile(join(dir, 'runs'), 'utf8')).trim().split('\n');

      // Assess: both served, one at a time: never two handlers running at once. The second had
      // found no environment in the set, started one beside the fresh one, and both ran.
      let running = 0;
      let most = 0;
      for (const run of runs) {
        running += run === 'start' ? 1 : -1;
        most = Math.max(most, running);
      }
      expect(first).toMatchObject({ ok: true });
      expect(await second).toMatchObject({ ok: true });
      expect(runs).toHaveLength(4);
      expect(most).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses an invocation still waiting for an environment when the function stops', async () => {
    // Prepare: one environment at most, held by an invocation that sleeps; a second invocation
    // waits for it.
    const f = probe('concurrency-stop', []);
    const first = f.invoke({ mode: 'sleep', ms: 3000 });
    const second = f.invoke({ mode: 'echo' }).then(
      () => 'served',
      (err: Error) => err.message,
    );

    // Act: stopped with no grace, the first invocation's environment is ended.
    await f.stop(0);
    await first;
    // What the waiting one got, or 'pending' if nothing by the next turn of the event loop.
    const waited = await Promise.race([
      second,
      new Promise<string>((r) => setImmediate(() => r('pending'))),
    ]);

    // Assess: it is refused as any invocation of a stopped function is. It was left waiting,
    // its invoke() never settled (an API request never answered at the cloud's stop).
    expect(waited).toBe('function concurrency-stop is stopped');
  }, 60_000);
});
