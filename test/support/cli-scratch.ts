import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a CLI run in-process left: its scratch directory, and what it wrote to stdout and stderr. */
export interface CliScratch {
  dir: string;
  stdout: string[];
  stderr: string[];
}

/**
 * For each test of the describe that calls it: a fresh scratch directory (named from `prefix`,
 * removed after the test) and stdout and stderr captured chunk by chunk instead of written.
 */
export function cliScratch(prefix: string): CliScratch {
  const s: CliScratch = { dir: '', stdout: [], stderr: [] };
  beforeEach(async () => {
    s.dir = await mkdtemp(join(tmpdir(), prefix));
    s.stdout = [];
    s.stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      s.stdout.push(String(chunk));
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      s.stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(s.dir, { recursive: true, force: true });
  });
  return s;
}
