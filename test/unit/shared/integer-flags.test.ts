import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as demo } from '../../../lab/demo/cli';
import { main as experiment } from '../../../lab/experiments/cli';
import { parseLoadArgs } from '../../../lab/loadgen/cli';
import { main as soak } from '../../../lab/soak/run';
import { parseStartArgs } from '../../../local/cli';
import { parseReportArgs } from '../../../services/report/src/cli/report';
import { UsageError } from '../../../shared/src/cli/args';

/**
 * Every integer flag of every CLI takes decimal digits only. Number() read `--port 1e3` as 1000
 * and `--port 0x10` as 16 (`npm run report -- --wait-timeout 0x10` was taken), while
 * `--seed 1e400` was refused. Each flag is read through its CLI's own parsing: a decimal value is
 * taken (the flag is reached), each other spelling is a usage error naming the flag. The local
 * cloud the lab CLIs start is replaced by one that fails at once: reaching it means "taken".
 */
jest.mock('../../../lab/local-run', () => ({
  runOnLocalCloud: jest.fn(async () => {
    throw new Error('started');
  }),
}));
const started = async () => {
  throw new Error('started');
};

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'integer-flags-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Resolves to 'taken' when the flags were read, or rejects with the parse's error. */
type Parse = (argv: string[]) => Promise<'taken'>;
const parsed =
  (parse: (argv: string[]) => unknown): Parse =>
  async (argv) => {
    parse(argv);
    return 'taken';
  };
const ran =
  (main: (argv: string[]) => Promise<unknown>, before: () => string[] = () => []): Parse =>
  async (argv) => {
    try {
      await main([...before(), ...argv]);
    } catch (err) {
      if ((err as Error).message === 'started') return 'taken';
      throw err;
    }
    throw new Error('the command neither failed nor started');
  };

const start = parsed(parseStartArgs);
const report = parsed((argv) => parseReportArgs(['--run', 'r1', ...argv]));
const load = parsed((argv) => parseLoadArgs(['--api', 'http://127.0.0.1:3000', ...argv]));
const demoRun = ran(
  (argv) => demo(argv),
  () => ['--out', out],
);
const soakRun = ran(
  (argv) => soak(argv, started),
  () => ['--out', out],
);
const sweep = ran(
  (argv) => experiment(['sweep', ...argv], started),
  () => ['--out', out],
);
const key = ran(
  (argv) => experiment(['idempotency-key', ...argv], started),
  () => ['--out', out],
);

/** [command, flag, a decimal value it takes, parse]. */
const FLAGS: Array<[string, string, string, Parse]> = [
  ['npm start', 'port', '1000', start],
  ['npm start', 'api-port', '16', start],
  ['npm start', 'seed', '7', start],
  ['npm run report', 'wait-timeout', '16', report],
  ['npm run load', 'orders', '1000', load],
  ['npm run load', 'customers', '16', load],
  ['npm run load', 'concurrency', '16', load],
  ['npm run load', 'seed', '7', load],
  ['npm run demo', 'orders', '1000', demoRun],
  ['npm run demo', 'customers', '16', demoRun],
  ['npm run demo', 'seed', '7', demoRun],
  ['npm run soak', 'orders', '1000', soakRun],
  ['npm run soak', 'customers', '16', soakRun],
  ['npm run soak', 'seed', '7', soakRun],
  ['npm run experiment -- sweep', 'orders', '1000', sweep],
  ['npm run experiment -- sweep', 'seed', '7', sweep],
  ['npm run experiment -- sweep', 'service-ms', '16', sweep],
  ['npm run experiment -- sweep', 'groups', '16', sweep],
  ['npm run experiment -- sweep', 'concurrency', '16', sweep],
  ['npm run experiment -- sweep', 'batch-size', '8', sweep],
  ['npm run experiment -- idempotency-key', 'orders', '1000', key],
  ['npm run experiment -- idempotency-key', 'seed', '7', key],
  ['npm run experiment -- idempotency-key', 'customers', '16', key],
];

/** Spellings Number() reads as an integer, none of them decimal digits. */
const NOT_DECIMAL = ['1e3', '0x10', '0o20', '0b10000', '1.0', '16.', '+16', ' 16', '16 ', '1e400'];

describe('integer flags', () => {
  let restore: () => void;
  beforeEach(() => {
    const a = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const b = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    restore = () => {
      a.mockRestore();
      b.mockRestore();
    };
  });
  afterEach(() => restore());

  it.each(FLAGS)(
    '%s --%s takes %s and refuses every other spelling',
    async (_c, flag, ok, parse) => {
      await expect(parse([`--${flag}`, ok])).resolves.toBe('taken');
      // A list's items may have spaces around them (`--groups "1, 5"`): its spellings are the rest.
      const list = ['groups', 'concurrency', 'batch-size'].includes(flag);
      for (const value of NOT_DECIMAL.filter((v) => !list || v.trim() === v)) {
        let err: unknown;
        try {
          await parse([`--${flag}`, value]);
        } catch (e) {
          err = e;
        }
        expect([value, err]).toEqual([value, expect.any(UsageError)]);
        expect((err as Error).message).toMatch(
          new RegExp(
            `^--${flag} must be (an integer|a comma-separated list of integers) in decimal digits, got "${value.replace(/[.+]/g, '\\$&')}"$`,
          ),
        );
      }
    },
  );

  it('keeps a negative value for its range message, and reads -0 as 0', async () => {
    expect(() => parseLoadArgs(['--api', 'http://a', '--orders', '-5'])).toThrow(
      /^--orders must be at least 1, got -5$/,
    );
    expect(Object.is(parseStartArgs(['--port', '-0']).port, 0)).toBe(true);
  });
});
