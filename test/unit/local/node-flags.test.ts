import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { NODE_MEMORY_FLAGS } from '../../../local/node-flags';

const ROOT = resolve(__dirname, '../../..');
const scripts = (require(resolve(ROOT, 'package.json')) as { scripts: Record<string, string> })
  .scripts;

/** The scripts that run the local cloud, or a benchmark of what runs in it. */
const LOCAL_CLOUD_SCRIPTS = [
  'start',
  'demo',
  'soak',
  'experiment',
  'bench:sqs',
  'bench:pipeline',
  'bench:report',
];

/** The largest the main thread's young generation grows, MiB, in a node started with `flags`. */
function youngGenerationMb(flags: readonly string[]): number {
  // Objects that live a while (a window of 20,000) make V8 grow the young generation to its cap.
  const program = `
    const v8 = require('node:v8');
    let keep = [];
    let most = 0;
    for (let i = 0; i < 3e6; i++) {
      keep.push({ i, s: 'x' + i });
      if (keep.length > 20000) keep = [];
      if (i % 10000 === 0) {
        const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
        most = Math.max(most, young.space_size);
      }
    }
    process.stdout.write(String(most / 1048576));
  `;
  return Number(execFileSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' }));
}

describe('node memory flags', () => {
  it.each(LOCAL_CLOUD_SCRIPTS)('npm run %s starts node with them, tsx as its loader', (name) => {
    expect(scripts[name]).toMatch(
      new RegExp(`^node ${NODE_MEMORY_FLAGS.join(' ')} --import tsx [\\w/.-]+\\.ts$`),
    );
  });

  it('reach V8 in a node started with them: the young generation stays small', () => {
    // Without the flags V8 grows it to 32 MiB here (two 16 MiB semi-spaces).
    expect(youngGenerationMb([])).toBeGreaterThan(8);
    expect(youngGenerationMb(NODE_MEMORY_FLAGS)).toBeLessThanOrEqual(4);
  }, 60_000);
});
