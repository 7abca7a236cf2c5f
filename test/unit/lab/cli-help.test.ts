import { SPEC as BENCH_PIPELINE_SPEC } from '../../../bench/pipeline/run';
import { DEMO_SPEC } from '../../../lab/demo/cli';
import { KEY_SPEC, SWEEP_SPEC } from '../../../lab/experiments/cli';
import { LOAD_SPEC, parseLoadArgs } from '../../../lab/loadgen/cli';
import { SOAK_SPEC } from '../../../lab/soak/run';
import { DYNAMODB_ENGINES } from '../../../local/dynamodb';
import {
  type CommandSpec,
  choiceOption,
  helpText,
  parseCommandLine,
} from '../../../shared/src/cli/args';

/** Each lab command, as a person types it before its own flags. */
const COMMANDS: Array<[string, CommandSpec]> = [
  ['npm run demo', DEMO_SPEC],
  ['npm run load', LOAD_SPEC],
  ['npm run soak', SOAK_SPEC],
  ['npm run experiment -- sweep', SWEEP_SPEC],
  ['npm run experiment -- idempotency-key', KEY_SPEC],
];

/** The flags of an example: what follows the command (and npm's `--`). */
function argvOf(example: string, command: string): string[] {
  expect(example.startsWith(command)).toBe(true);
  const rest = example.slice(command.length).trim().split(/\s+/).filter(Boolean);
  return rest[0] === '--' ? rest.slice(1) : rest;
}

describe("the lab commands' --help", () => {
  it.each(COMMANDS)('%s shows examples, each of which its own parser takes', (command, spec) => {
    expect(spec.examples?.length).toBeGreaterThan(0);
    expect(helpText(spec)).toContain(`Examples:\n  ${command}`);
    for (const example of spec.examples ?? []) {
      const argv = argvOf(example, command);
      const values = parseCommandLine(spec, argv);
      // A value shown as a choice (<a|b|c>) is one of the choices.
      for (const [name, option] of Object.entries(spec.options)) {
        const choices = /^<([\w-]+(?:\|[\w-]+)+)>$/.exec(option.value ?? '')?.[1]?.split('|');
        if (choices && argv.includes(`--${name}`)) expect(choices).toContain(values[name]);
      }
    }
  });

  it("npm run load's examples pass its whole argument check", () => {
    for (const example of LOAD_SPEC.examples ?? []) {
      expect(() => parseLoadArgs(argvOf(example, 'npm run load'))).not.toThrow();
    }
  });
});

describe('--dynamodb in --help', () => {
  it.each([
    ['npm run demo', DEMO_SPEC],
    ['npm run bench:pipeline', BENCH_PIPELINE_SPEC],
  ])('%s names the values it accepts, each of which it takes', (_command, spec) => {
    // It said "dynalite, or the in-memory prototype" under `--dynamodb <store>`: not which word.
    expect(helpText(spec)).toContain(`--dynamodb <${DYNAMODB_ENGINES.join('|')}>`);
    for (const engine of DYNAMODB_ENGINES) {
      const values = parseCommandLine(spec, ['--dynamodb', engine]);
      expect(choiceOption(values, 'dynamodb', DYNAMODB_ENGINES)).toBe(engine);
    }
  });
});
