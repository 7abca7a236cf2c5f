import { resolve } from 'node:path';
import { importSpecifiers, LAYERS, layerViolations, readLayerSources } from '../support/layers';

const ROOT = resolve(__dirname, '../..');

describe('the checker of one-way dependencies', () => {
  it('finds every form of import: static, re-export, side effect, dynamic, require, jest.mock', () => {
    const source = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      "export { c } from './c';",
      "import './side-effect';",
      "const d = await import('./d');",
      "const e = require('./e');",
      "jest.mock('./f');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual([
      './a',
      '../b',
      './c',
      './side-effect',
      './d',
      './e',
      './f',
      'zod',
    ]);
  });

  it('names a service that imports the local cloud or the lab, however it imports it', () => {
    const violations = layerViolations([
      {
        path: 'services/report/src/cli/report.ts',
        source: [
          "import { startLocalCloud } from '../../../../local/cloud';",
          "const lab = await import('../../../../lab/local-run');",
          "import { pipelineConfig } from '../../../../shared/src/config/pipeline';",
          "import { metrics } from '../domain/metrics';",
          "import { z } from 'zod';",
        ].join('\n'),
      },
    ]);
    expect(violations).toEqual([
      {
        file: 'services/report/src/cli/report.ts',
        specifier: '../../../../local/cloud',
        reaches: 'local',
      },
      {
        file: 'services/report/src/cli/report.ts',
        specifier: '../../../../lab/local-run',
        reaches: 'lab',
      },
    ]);
  });

  it('names shared code that reaches up, infra that reaches into local, and paths out of the repo', () => {
    const violations = layerViolations([
      { path: 'shared/src/env.ts', source: "import { x } from '../../services/producer/src/app';" },
      { path: 'infra/lib/stack.ts', source: "import { y } from '../../local/cloud';" },
      { path: 'local/cloud.ts', source: "import { z } from '../lab/local-run';" },
      { path: 'lab/demo/cli.ts', source: "import { w } from '../../test/support/layers';" },
      { path: 'services/x.ts', source: "import { v } from '../../elsewhere/v';" },
    ]);
    expect(violations.map((v) => `${v.file} -> ${v.reaches}`)).toEqual([
      'shared/src/env.ts -> services',
      'infra/lib/stack.ts -> local',
      'local/cloud.ts -> lab',
      'lab/demo/cli.ts -> test',
      'services/x.ts -> outside',
    ]);
  });
});

describe('the repository', () => {
  it('keeps every dependency one way: services never import local/ or lab/', () => {
    const files = readLayerSources(ROOT, Object.keys(LAYERS));
    // The scan must see the code it guards, or it would pass on nothing.
    expect(files.filter((f) => f.path.startsWith('services/')).length).toBeGreaterThan(20);
    expect(files.filter((f) => f.path.startsWith('lab/')).length).toBeGreaterThan(5);
    expect(layerViolations(files)).toEqual([]);
  });
});
