import { resolve } from 'node:path';
import type { FunctionDefinition } from '../../../local/function-runtime';

/**
 * Only types from local/function-runtime here: tests that load the runtime after changing what
 * it reads as it loads (jest.isolateModules) use these helpers with their own LocalFunction.
 */

/** The probe handler (fixtures/probe-handler.ts), which does what each event's `mode` asks. */
export const PROBE = resolve(__dirname, 'fixtures/probe-handler.ts');

/**
 * The definition of a function `name` in one environment with a 5 s timeout and 256 MB: the probe
 * with no env, unless `def` says otherwise (another module, its env, export, timeout, onLog...).
 */
export function probeDefinition(
  name: string,
  def: Partial<FunctionDefinition> = {},
): FunctionDefinition {
  return {
    name,
    modulePath: PROBE,
    env: {},
    timeoutSeconds: 5,
    memorySizeMb: 256,
    maxEnvironments: 1,
    region: 'us-east-1',
    ...def,
  };
}

/** What warm() ends with: 'warmed', or the message it failed with. */
export function warmOutcome(f: { warm(): Promise<unknown> }): Promise<string> {
  return f.warm().then(
    () => 'warmed',
    (err: Error) => err.message,
  );
}
