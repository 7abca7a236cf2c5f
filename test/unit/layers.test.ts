import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  domainViolations,
  importCycles,
  importSpecifiers,
  LAYERS,
  LEDGER_KEY_BUILDERS,
  LEDGER_NON_KEY_EXPORTS,
  layerViolations,
  ledgerKeyUses,
  readLayerSources,
  valueExports,
} from '../support/layers';

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

describe('the checker of AWS-free domains', () => {
  it('names a domain file that imports Lambda types, the AWS SDK or Powertools', () => {
    const violations = domainViolations([
      {
        path: 'services/consumer/src/domain/delivery.ts',
        source: [
          "import type { SQSRecord } from 'aws-lambda';",
          "import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';",
          "import type { Logger } from '@aws-lambda-powertools/logger';",
          "import { z } from 'zod';",
          "import { keyedUniform } from '../../../../shared/src/random';",
        ].join('\n'),
      },
    ]);
    expect(violations).toEqual([
      {
        file: 'services/consumer/src/domain/delivery.ts',
        specifier: 'aws-lambda',
        via: ['services/consumer/src/domain/delivery.ts'],
      },
      {
        file: 'services/consumer/src/domain/delivery.ts',
        specifier: '@aws-sdk/lib-dynamodb',
        via: ['services/consumer/src/domain/delivery.ts'],
      },
      {
        file: 'services/consumer/src/domain/delivery.ts',
        specifier: '@aws-lambda-powertools/logger',
        via: ['services/consumer/src/domain/delivery.ts'],
      },
    ]);
  });

  it('follows relative imports: a domain that reaches AWS through an adapter or shared code', () => {
    const violations = domainViolations([
      {
        path: 'services/producer/src/domain/request.ts',
        source: "import { x } from '../adapters/queue';",
      },
      {
        path: 'services/producer/src/adapters/queue.ts',
        source: "import { y } from '../../../../shared/src/aws-clients';",
      },
      {
        path: 'shared/src/aws-clients.ts',
        source: "import { SQSClient } from '@aws-sdk/client-sqs';",
      },
      // Outside a domain, the same imports are the adapters' job and pass.
      {
        path: 'services/producer/src/app.ts',
        source: "import type { Context } from 'aws-lambda';",
      },
    ]);
    expect(violations).toEqual([
      {
        file: 'services/producer/src/domain/request.ts',
        specifier: '@aws-sdk/client-sqs',
        via: [
          'services/producer/src/domain/request.ts',
          'services/producer/src/adapters/queue.ts',
          'shared/src/aws-clients.ts',
        ],
      },
    ]);
  });
});

describe('the checker of import cycles', () => {
  it('names each cycle with its files and the imports that tie it, type-only imports included', () => {
    const cycles = importCycles([
      // A cycle of two through a type-only import.
      { path: 'shared/src/kind.ts', source: "import type { Config } from './config/pipeline';" },
      {
        path: 'shared/src/config/pipeline.ts',
        source: "import { KINDS } from '../kind';\nimport { z } from 'zod';",
      },
      // A cycle of three, one link a re-export and one a dynamic import of a directory's index.
      { path: 'local/sqs/a.ts', source: "export { b } from './b';" },
      { path: 'local/sqs/b.ts', source: "const c = await import('./c');" },
      { path: 'local/sqs/c/index.ts', source: "import { a } from '../a';" },
      // A file that imports itself.
      { path: 'lab/self.ts', source: "import type { Self } from './self';" },
      // Imports that go one way, and a specifier that names no source file, tie nothing.
      { path: 'services/app.ts', source: "import { KINDS } from '../shared/src/kind';" },
      { path: 'services/util.ts', source: "import data from './data.json';" },
    ]);
    expect(cycles).toEqual([
      {
        files: ['lab/self.ts'],
        imports: [{ file: 'lab/self.ts', specifier: './self', target: 'lab/self.ts' }],
      },
      {
        files: ['local/sqs/a.ts', 'local/sqs/b.ts', 'local/sqs/c/index.ts'],
        imports: [
          { file: 'local/sqs/a.ts', specifier: './b', target: 'local/sqs/b.ts' },
          { file: 'local/sqs/b.ts', specifier: './c', target: 'local/sqs/c/index.ts' },
          { file: 'local/sqs/c/index.ts', specifier: '../a', target: 'local/sqs/a.ts' },
        ],
      },
      {
        files: ['shared/src/config/pipeline.ts', 'shared/src/kind.ts'],
        imports: [
          {
            file: 'shared/src/config/pipeline.ts',
            specifier: '../kind',
            target: 'shared/src/kind.ts',
          },
          {
            file: 'shared/src/kind.ts',
            specifier: './config/pipeline',
            target: 'shared/src/config/pipeline.ts',
          },
        ],
      },
    ]);
  });

  it('finds none where every import goes one way', () => {
    expect(
      importCycles([
        { path: 'a.ts', source: "import { b } from './b';\nimport { c } from './c';" },
        { path: 'b.ts', source: "import { c } from './c';" },
        { path: 'c.ts', source: "import { z } from 'zod';" },
      ]),
    ).toEqual([]);
  });
});

describe('the checker of ledger keys', () => {
  it('names a key builder used outside a service adapter, and lets the adapter use it', () => {
    const uses = ledgerKeyUses([
      {
        path: 'services/consumer/src/domain/record-handling.ts',
        source:
          "import { effectSk, runPk } from '../../../../shared/src/ledger';\nrunPk(id); effectSk(q, o, g);",
      },
      { path: 'services/consumer/src/app.ts', source: 'const key = { sk: deliverySk(q, o, d) };' },
      {
        path: 'services/consumer/src/domain/guard.ts',
        source: 'const guard = on === "order" ? ORDER_GUARD_KEY : messageGuardKey(id);',
      },
      {
        path: 'services/consumer/src/adapters/ledger.ts',
        source: 'const Key = { pk: runPk(runId), sk: applyCounterSk(queue, customerId) };',
      },
      { path: 'shared/src/ledger.ts', source: 'export const runPk = (runId: string) => runId;' },
    ]);
    expect(uses).toEqual([
      { file: 'services/consumer/src/domain/record-handling.ts', builder: 'effectSk' },
      { file: 'services/consumer/src/domain/record-handling.ts', builder: 'runPk' },
      { file: 'services/consumer/src/app.ts', builder: 'deliverySk' },
      { file: 'services/consumer/src/domain/guard.ts', builder: 'ORDER_GUARD_KEY' },
      { file: 'services/consumer/src/domain/guard.ts', builder: 'messageGuardKey' },
    ]);
  });
});

describe('the list of ledger key builders', () => {
  it('reads the values a module exports, not its types', () => {
    const source = [
      'export const runPk = (id: string) => id;',
      "export const ORDER_SK = 'ORDER';",
      'export function counterValue() {}',
      'export async function later() {}',
      'export class Thing {}',
      'export interface Row { pk: string }',
      'export type Key = string;',
      'const hidden = 1;',
    ].join('\n');
    expect(valueExports(source)).toEqual(['runPk', 'ORDER_SK', 'counterValue', 'later', 'Thing']);
  });

  it('names every value shared/src/ledger.ts exports, as a key builder or as none', () => {
    const exported = valueExports(readFileSync(resolve(ROOT, 'shared/src/ledger.ts'), 'utf8'));
    expect(exported.length).toBeGreaterThan(5);
    expect([...exported].sort()).toEqual(
      [...LEDGER_KEY_BUILDERS, ...LEDGER_NON_KEY_EXPORTS].sort(),
    );
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

  it('keeps every service domain free of Lambda types, the AWS SDK and Powertools', () => {
    const files = readLayerSources(ROOT, ['services', 'shared']);
    // The scan must see the domains it guards, or it would pass on nothing.
    const domains = files.filter((f) => /^services\/[^/]+\/src\/domain\//.test(f.path));
    expect(new Set(domains.map((f) => f.path.split('/')[1])).size).toBeGreaterThanOrEqual(3);
    expect(domainViolations(files)).toEqual([]);
  });

  it('has no import cycle among its source files, type-only imports included', () => {
    // Every file but the tests: the layers and the benchmarks.
    const files = readLayerSources(ROOT, [...Object.keys(LAYERS), 'bench']);
    // The scan must see the code it guards, or it would pass on nothing.
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.path.startsWith('bench/'))).toBe(true);
    expect(importCycles(files)).toEqual([]);
  });

  // The services whose ledger keys live in their adapters alone.
  it.each(['consumer', 'producer'])(
    'keeps the ledger keys of the %s inside its adapters',
    (service) => {
      const files = readLayerSources(ROOT, [`services/${service}`]);
      expect(files.some((f) => f.path.includes('/src/adapters/'))).toBe(true);
      expect(ledgerKeyUses(files)).toEqual([]);
    },
  );
});
