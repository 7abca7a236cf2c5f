import { SPEC as BENCH_PIPELINE_SPEC } from '../../../bench/pipeline/run';
import { SPEC as BENCH_SQS_SPEC } from '../../../bench/sqs/run';
import { DEMO_SPEC } from '../../../lab/demo/cli';
import { KEY_SPEC, SWEEP_SPEC } from '../../../lab/experiments/cli';
import { LOAD_SPEC } from '../../../lab/loadgen/cli';
import { SOAK_SPEC } from '../../../lab/soak/run';
import { START_SPEC } from '../../../local/cli';
import { REPORT_SPEC } from '../../../services/report/src/cli/report';
import { type CommandSpec, parseCommandLine, UsageError } from '../../../shared/src/cli/args';

const COMMANDS: Array<[string, CommandSpec]> = [
  ['npm start', START_SPEC],
  ['npm run report', REPORT_SPEC],
  ['npm run load', LOAD_SPEC],
  ['npm run demo', DEMO_SPEC],
  ['npm run soak', SOAK_SPEC],
  ['npm run experiment -- sweep', SWEEP_SPEC],
  ['npm run experiment -- idempotency-key', KEY_SPEC],
  ['npm run bench:sqs', BENCH_SQS_SPEC],
  ['npm run bench:pipeline', BENCH_PIPELINE_SPEC],
];

/** Every flag of every command that takes a value, as [command, spec, flag]. */
const VALUE_FLAGS = COMMANDS.flatMap(([command, spec]) =>
  Object.entries(spec.options)
    .filter(([, o]) => o.type === 'string')
    .map(([name]) => [command, spec, name] as const),
);

function refusal(spec: CommandSpec, argv: string[]): unknown {
  try {
    parseCommandLine(spec, argv);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('parseCommandLine', () => {
  it('covers a flag that takes a value in every command', () => {
    expect(new Set(VALUE_FLAGS.map(([command]) => command))).toEqual(
      new Set(COMMANDS.map(([command]) => command)),
    );
  });

  it.each(VALUE_FLAGS.map(([command, spec, name]) => [`${command} --${name}`, spec, name]))(
    'refuses an empty value for %s, written with = or as its own argument',
    (_label, spec, name) => {
      for (const argv of [[`--${name}=`], [`--${name}`, '']]) {
        const err = refusal(spec as CommandSpec, argv);
        expect(err).toBeInstanceOf(UsageError);
        expect((err as Error).message).toMatch(
          new RegExp(`^--${name} needs a value \\(.+\\), got an empty one$`),
        );
      }
    },
  );

  it('refuses an empty value among the values of a repeatable flag', () => {
    const err = refusal(START_SPEC, ['--allow-origin', 'http://a:1', '--allow-origin=']);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      '--allow-origin needs a value (<origin>), got an empty one',
    );
  });

  it.each(
    VALUE_FLAGS.filter(([, spec, name]) => !spec.options[name]?.multiple).map(
      ([command, spec, name]) => [`${command} --${name}`, spec, name],
    ),
  )('refuses %s given twice, where the last value was kept', (_label, spec, name) => {
    for (const argv of [
      [`--${name}`, '1', `--${name}`, '2'],
      [`--${name}=1`, `--${name}=1`],
    ]) {
      const err = refusal(spec as CommandSpec, argv);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(
        new RegExp(`^--${name} takes one value, given more than once: "1", "[12]"$`),
      );
    }
  });

  it('takes every value of a flag meant to repeat', () => {
    const repeatable = VALUE_FLAGS.filter(([, spec, name]) => spec.options[name]?.multiple);
    expect(repeatable.map(([command, , name]) => `${command} --${name}`)).toEqual([
      'npm start --allow-origin',
    ]);
    for (const [, spec, name] of repeatable) {
      const values = parseCommandLine(spec, [`--${name}`, 'http://a:1', `--${name}=http://b:2`]);
      expect(values[name]).toEqual(['http://a:1', 'http://b:2']);
    }
  });
});
