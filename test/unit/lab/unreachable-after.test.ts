import { join } from 'node:path';
import { DEMO_SPEC, main as demo } from '../../../lab/demo/cli';
import { main as experiment, KEY_SPEC, SWEEP_SPEC } from '../../../lab/experiments/cli';
import { LOAD_SPEC, parseLoadArgs } from '../../../lab/loadgen/cli';
import type { LocalRunOptions } from '../../../lab/local-run';
import { SOAK_SPEC, main as soak } from '../../../lab/soak/run';
import { type CommandSpec, helpText, UsageError } from '../../../shared/src/cli/args';
import { cliScratch } from '../../support/cli-scratch';

/**
 * `--unreachable-after`, the load client's cut-off, in every command that runs the load client:
 * the demo, the soak and the experiments take it as `npm run load` does (same range, same
 * messages, same --help line) and hand it to the run's load client. The local cloud is replaced
 * by a run that records its options and stops there.
 */
type Command = (argv: string[], run: (o: LocalRunOptions) => Promise<never>) => Promise<unknown>;
const COMMANDS: Array<[string, CommandSpec, Command]> = [
  ['npm run demo', DEMO_SPEC, (argv, run) => demo(argv, run)],
  ['npm run soak', SOAK_SPEC, (argv, run) => soak(argv, run)],
  ['npm run experiment -- sweep', SWEEP_SPEC, (argv, run) => experiment(['sweep', ...argv], run)],
  [
    'npm run experiment -- idempotency-key',
    KEY_SPEC,
    (argv, run) => experiment(['idempotency-key', ...argv], run),
  ],
];

/** The --help line of --unreachable-after in `spec`'s help. */
const helpLine = (spec: CommandSpec) =>
  helpText(spec)
    .split('\n')
    .find((l) => l.trimStart().startsWith('--unreachable-after '))
    ?.replace(/^\s*--unreachable-after <s>\s+/, '');

describe('--unreachable-after in the demo, the soak and the experiments', () => {
  const s = cliScratch('unreachable-after-');

  /** What `command` hands its first run for `argv`, the run stopped there. */
  async function firstRun(command: Command, argv: string[]): Promise<LocalRunOptions> {
    const seen: LocalRunOptions[] = [];
    const run = async (o: LocalRunOptions): Promise<never> => {
      seen.push(o);
      throw new Error('stopped at the run');
    };
    await expect(
      command([...argv, '--orders', '2', '--seed', '1', '--out', join(s.dir, 'out')], run),
    ).rejects.toThrow('stopped at the run');
    expect(seen).toHaveLength(1);
    return seen[0]!;
  }

  it.each(COMMANDS)(
    '%s hands the window to its load client, 30 s when not given',
    async (_name, _spec, command) => {
      expect((await firstRun(command, ['--unreachable-after', '0.5'])).unreachableWindowMs).toBe(
        500,
      );
      expect((await firstRun(command, [])).unreachableWindowMs).toBe(30_000);
      expect(parseLoadArgs(['--api', 'http://x/']).unreachableWindowMs).toBe(30_000);
    },
  );

  it.each(COMMANDS)(
    "%s refuses a bad value with npm run load's message, before any run",
    async (_name, _spec, command) => {
      for (const [value, message] of [
        ['0', '--unreachable-after must be at least 0.1, got 0'],
        ['86401', '--unreachable-after must be at most 86400, got 86401'],
        ['soon', '--unreachable-after must be a number, got "soon"'],
      ]) {
        const load = () => parseLoadArgs(['--api', 'http://x/', '--unreachable-after', value!]);
        expect(load).toThrow(new UsageError(message!));
        const run = jest.fn(async (): Promise<never> => {
          throw new Error('a run started');
        });
        await expect(
          command(['--unreachable-after', value!, '--out', join(s.dir, 'out')], run),
        ).rejects.toThrow(new UsageError(message!));
        expect(run).not.toHaveBeenCalled();
      }
    },
  );

  it.each(COMMANDS)("%s's --help says of it what npm run load's does", (_name, spec) => {
    const line = helpLine(LOAD_SPEC);
    expect(line).toContain("given up as 'API unreachable'");
    expect(line).toContain('0.1 to 86400 (default: 30)');
    expect(helpLine(spec)).toBe(line);
  });
});
