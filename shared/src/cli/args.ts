import { parseArgs } from 'node:util';
import { outputLost, watchOutput } from './output';

/**
 * Every command-line tool of the project parses its flags here, so `--help`, unknown flags and
 * bad values behave the same everywhere: a one-line message saying what to fix, exit code 2, no
 * stack trace.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, e.g. `<n>`. */
  value?: string;
  description: string;
  default?: string | boolean;
  multiple?: boolean;
}

export interface CommandSpec {
  /** As the user types it, e.g. `npm run report --`. */
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, '', 'Options:'];
  const entries = Object.entries({
    ...spec.options,
    help: { type: 'boolean', short: 'h', description: 'show this help' } as OptionSpec,
  });
  const labels = entries.map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    return `  ${short}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
  });
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  entries.forEach(([, o], i) => {
    const def = o.default === undefined || o.default === false ? '' : ` (default: ${o.default})`;
    lines.push(`${labels[i]!.padEnd(width)}${o.description}${def}`);
  });
  if (spec.examples?.length) {
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  return lines.join('\n');
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** Parses argv; prints help and exits 0 on --help; throws UsageError on bad flags. */
export function parseCommandLine(
  spec: CommandSpec,
  argv: string[] = process.argv.slice(2),
): ParsedValues {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let values: ParsedValues;
  let tokens: OptionToken[];
  try {
    ({ values, tokens } = parseArgs({
      args: negativeValuesJoined(spec, argv),
      options,
      strict: true,
      allowPositionals: false,
      tokens: true,
    }) as {
      values: ParsedValues;
      tokens: OptionToken[];
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  if (values.help) {
    process.stdout.write(`${helpText(spec)}\n`);
    process.exit(0);
  }
  refuseEmptyValues(spec, values);
  refuseRepeatedValues(spec, tokens);
  for (const [name, o] of Object.entries(spec.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  return values;
}

/**
 * `--region=` and `--region ''` give the flag an empty string, which parseArgs takes as a value.
 * No flag of the project means anything by one, and each CLI read it its own way: `--region=` was
 * dropped as if it had not been given (the SDK's region was used), `--port=` read as 0 (a free
 * port), `--stack=` as a stack with no name. A flag given without a value is a mistake to say.
 */
function refuseEmptyValues(spec: CommandSpec, values: ParsedValues): void {
  for (const [name, o] of Object.entries(spec.options)) {
    const value = values[name];
    const given = Array.isArray(value) ? value : [value];
    if (o.type === 'string' && given.includes('')) {
      throw new UsageError(`--${name} needs a value (${o.value ?? '<value>'}), got an empty one`);
    }
  }
}

interface OptionToken {
  kind: string;
  name?: string;
  value?: string;
}

/**
 * parseArgs keeps the last of a flag given twice: `report --run a --run b` reported run b, and
 * `load --orders 1 --orders 2` sent 2, without a word. A flag that takes one value (not declared
 * `multiple`) given more than once is a mistake to say, whatever the values; `-r`-style short
 * names count as their flag.
 */
function refuseRepeatedValues(spec: CommandSpec, tokens: OptionToken[]): void {
  const seen = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const o = spec.options[token.name];
    if (o === undefined || o.type !== 'string' || o.multiple) continue;
    const given = [...(seen.get(token.name) ?? []), token.value ?? ''];
    if (given.length > 1) {
      throw new UsageError(
        `--${token.name} takes one value, given more than once: ${given.map((v) => `"${v}"`).join(', ')}`,
      );
    }
    seen.set(token.name, given);
  }
}

/**
 * `--orders -5` as `--orders=-5`: node's parseArgs refuses a value that starts with `-` after a
 * space ("argument is ambiguous"), and a negative number would then never reach the option's own
 * check, which says what is valid ("--orders must be at least 1, got -5").
 */
function negativeValuesJoined(spec: CommandSpec, argv: string[]): string[] {
  const takesValue = (arg: string): string | undefined => {
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    return name !== undefined && spec.options[name]?.type === 'string' ? name : undefined;
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = takesValue(arg);
    const next = argv[i + 1];
    if (name !== undefined && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

interface Range {
  min?: number;
  max?: number;
}

function checkedNumber(name: string, n: number, { min, max }: Range): number {
  if (min !== undefined && n < min)
    throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  if (max !== undefined && n > max)
    throw new UsageError(`--${name} must be at most ${max}, got ${n}`);
  return n;
}

/**
 * The one rule for every integer flag: decimal digits, a leading `-` allowed (so a negative
 * number gets its range's message). Number() alone read `--port 1e3` as 1000 and `--port 0x10`
 * as 16 (also `0o`, `0b`, `1.0`, `+5`, surrounding spaces), while `--seed 1e400` was refused: a
 * typo bound an unexpected port instead of a usage error. Undefined when `text` is not one.
 */
export function decimalInteger(text: string): number | undefined {
  if (!/^-?[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n === 0 ? 0 : n; // -0 is 0
}

export function intOption(
  values: ParsedValues,
  name: string,
  range: Range = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' ? decimalInteger(raw) : undefined;
  if (n === undefined) {
    throw new UsageError(`--${name} must be an integer in decimal digits, got "${String(raw)}"`);
  }
  return checkedNumber(name, n, range);
}

export function numberOption(
  values: ParsedValues,
  name: string,
  range: Range = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  // Decimal notation, an exponent allowed (`5e-2`); not hex, octal or binary, which Number() reads.
  const decimal =
    typeof raw === 'string' && /^-?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]+)?$/i.test(raw);
  const n = Number(raw);
  if (!decimal || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
  }
  // A number too small for a double reads as 0 (`--rate 1e-400`), which a flag may take to mean
  // something else entirely (a rate of 0 is unlimited), where 1e-300 got its range's message.
  if (n === 0 && /[1-9]/.test(raw.split(/e/i)[0]!)) {
    throw new UsageError(`--${name} must be a number, got "${raw}", which is too small to be one`);
  }
  return checkedNumber(name, n, range);
}

export function choiceOption<T extends string>(
  values: ParsedValues,
  name: string,
  choices: readonly T[],
): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${String(raw)}"`);
  }
  return raw as T;
}

/**
 * `text` on one line, for a terminal: every control character (a newline, an escape that
 * starts a terminal sequence, C1 controls) written as its `\\uXXXX` escape.
 */
export function oneLine(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Runs a CLI's main: user mistakes (UsageError, or any error with `expose = true`) print one line
 * and exit 2 or 1; anything else is a bug and keeps its stack. Output that fails is handled as
 * shared/src/cli/output.ts says: a reader gone away is not an error, lost output is (exit 1).
 */
export function runMain(
  // biome-ignore lint/suspicious/noConfusingVoidType: mains that return nothing are allowed.
  main: () => Promise<number | undefined | void>,
  spec?: CommandSpec,
): void {
  watchOutput();
  // A main that can no longer finish: everything it waited on closed without settling its
  // promise (an HTTP client's request that neither answers nor fails), so nothing is left to
  // run. Node then exited 0, the command's work undone and nothing said (\`npm run load\` after
  // an answer 101 Switching Protocols).
  const unfinished = () => {
    process.stderr.write(
      'error: stopped before finishing: something it waited for ended without an answer\n',
    );
    process.exitCode = 1;
  };
  process.once('beforeExit', unfinished);
  main().then(
    (code) => {
      process.off('beforeExit', unfinished);
      if (typeof code === 'number') process.exitCode = code === 0 && outputLost() ? 1 : code;
    },
    (err: unknown) => {
      process.off('beforeExit', unfinished);
      // One line whatever the message holds (parseArgs' own messages have three; a flag's value
      // may hold a newline).
      if (err instanceof UsageError) {
        process.stderr.write(`error: ${oneLine(err.message)}\n`);
        if (spec) process.stderr.write(`run with --help for usage\n`);
        process.exitCode = 2;
        return;
      }
      if (err instanceof Error && (err as Error & { expose?: boolean }).expose) {
        process.stderr.write(`error: ${oneLine(err.message)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** An error meant for the person at the terminal: printed as one line, no stack. */
export class CliError extends Error {
  readonly expose = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
  }
}
