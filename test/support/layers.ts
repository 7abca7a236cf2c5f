import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The code's layers and which others each may import. Dependencies point one way: shared/ at
 * the bottom; services/ (the Lambda code and the report library) and the two places the pipeline
 * runs, infra/ (AWS) and local/ (the local cloud), on top of it and blind to each other; lab/
 * (demo, experiments, soak, load generator) on top of everything it drives. What runs on AWS
 * therefore never contains a line of the local cloud or the lab.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  shared: ['shared'],
  services: ['services', 'shared'],
  infra: ['infra', 'shared'],
  local: ['local', 'shared'],
  lab: ['lab', 'services', 'local', 'shared'],
};

export interface SourceFile {
  /** Path from the repository root, `/`-separated. */
  path: string;
  source: string;
}

export interface LayerViolation {
  file: string;
  specifier: string;
  /** The layer the import reaches into (or `outside` for a path out of every layer). */
  reaches: string;
}

// Static imports and re-exports (`from '...'`), side-effect imports, dynamic import() and
// require(), and jest.mock(): every way a module can pull another one in.
const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*|\bjest\.mock\s*\(\s*)['"`]([^'"`]+)['"`]/g;

/** Every module specifier the source names, package or path. */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1]!);
}

function layerOf(path: string): string {
  return path.split('/')[0] ?? '';
}

/**
 * Imports that leave what their file's layer may import. Package imports (no leading `.` or
 * `/`) are not layers and always pass; a relative path is resolved against the importing file.
 */
export function layerViolations(
  files: readonly SourceFile[],
  layers: Readonly<Record<string, readonly string[]>> = LAYERS,
): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const file of files) {
    const allowed = layers[layerOf(file.path)];
    if (!allowed) continue;
    for (const specifier of importSpecifiers(file.source)) {
      if (!specifier.startsWith('.') && !specifier.startsWith('/')) continue;
      const target = specifier.startsWith('/')
        ? specifier
        : join(dirname(file.path), specifier).split(sep).join('/');
      const reaches =
        target.startsWith('..') || target.startsWith('/') ? 'outside' : layerOf(target);
      if (!allowed.includes(reaches)) violations.push({ file: file.path, specifier, reaches });
    }
  }
  return violations;
}

/** The TypeScript sources of the given layers, read from the repository at `root`. */
export function readLayerSources(root: string, layers: readonly string[]): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|js|mjs|cjs)$/.test(entry.name)) {
        files.push({
          path: relative(root, full).split(sep).join('/'),
          source: readFileSync(full, 'utf8'),
        });
      }
    }
  };
  for (const layer of layers) walk(resolve(root, layer));
  return files;
}

/**
 * The file among `known` a relative specifier names from the file at `from`: the path itself, or
 * with `.ts`, or its directory's `index.ts`, as the project's imports are written.
 */
function resolveRelative(
  from: string,
  specifier: string,
  known: ReadonlyMap<string, unknown>,
): string | undefined {
  const base = join(dirname(from), specifier).split(sep).join('/');
  return [base, `${base}.ts`, `${base}/index.ts`].find((p) => known.has(p));
}

/**
 * Packages a service's domain (services/<name>/src/domain/**) never pulls in: the domain speaks
 * the pipeline's words (orders, deliveries, turns, effects), and Lambda's event types, the AWS
 * SDK and Powertools stay in the wiring and the adapters around it.
 */
export const DOMAIN_FORBIDDEN_PACKAGES: readonly RegExp[] = [
  /^aws-lambda(\/|$)/,
  /^@aws-sdk\//,
  /^@aws-lambda-powertools\//,
];

const DOMAIN_FILE = /^services\/[^/]+\/src\/domain\//;

export interface DomainViolation {
  /** The domain file whose imports lead to the package. */
  file: string;
  /** The forbidden package. */
  specifier: string;
  /** The files from the domain file to the one that imports the package. */
  via: string[];
}

/**
 * Forbidden packages a domain file imports, directly or through any file it imports by a
 * relative path (an adapter, or shared code that wraps an SDK, counts as well): type-only
 * imports included, since the claim is that the domain is written without AWS's types.
 */
export function domainViolations(
  files: readonly SourceFile[],
  forbidden: readonly RegExp[] = DOMAIN_FORBIDDEN_PACKAGES,
): DomainViolation[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const resolveFile = (from: string, specifier: string): string | undefined =>
    resolveRelative(from, specifier, byPath);
  const violations: DomainViolation[] = [];
  for (const root of files.filter((f) => DOMAIN_FILE.test(f.path))) {
    const seen = new Set<string>([root.path]);
    const queue: { file: SourceFile; via: string[] }[] = [{ file: root, via: [root.path] }];
    for (let next = queue.shift(); next; next = queue.shift()) {
      for (const specifier of importSpecifiers(next.file.source)) {
        if (specifier.startsWith('.')) {
          const target = resolveFile(next.file.path, specifier);
          if (target && !seen.has(target)) {
            seen.add(target);
            queue.push({ file: byPath.get(target)!, via: [...next.via, target] });
          }
        } else if (forbidden.some((pattern) => pattern.test(specifier))) {
          violations.push({ file: root.path, specifier, via: next.via });
        }
      }
    }
  }
  return violations;
}

/**
 * What shared/src/ledger.ts exports to build the table's keys: whole keys, the parts of a key
 * (an effect's guard segment) and the prefixes and index a Query reads by. A writer's adapters
 * alone use them.
 */
export const LEDGER_KEY_BUILDERS = [
  'runPk',
  'orderPk',
  'ORDER_SK',
  'acceptedSk',
  'acceptedKeys',
  'deliverySk',
  'effectSk',
  'ORDER_GUARD_KEY',
  'messageGuardKey',
  'unguardedGuardKey',
  'failureSk',
  'applyCounterSk',
  'sequenceCounterSk',
  'clockSkipSk',
  'SK_PREFIX',
  'ACCEPTED_BY_RUN',
] as const;

/** What shared/src/ledger.ts exports that is no part of a key: the counters' strict read and the printer of a ledger value in errors. */
export const LEDGER_NON_KEY_EXPORTS = ['counterValue', 'shownValue'] as const;

/**
 * The values a module exports (not its types): the ledger module's exports must each be listed
 * as a key builder or as none, so a new builder cannot slip past the check unlisted.
 */
export function valueExports(source: string): string[] {
  return [...source.matchAll(/^export\s+(?:async\s+)?(?:const|let|function|class)\s+(\w+)/gm)].map(
    (m) => m[1]!,
  );
}

/**
 * Uses of a ledger key builder in a service file outside its `adapters/`: the domain, the app
 * and the handlers speak of runs, orders and receipts, and the adapter derives the keys.
 */
export function ledgerKeyUses(files: readonly SourceFile[]): { file: string; builder: string }[] {
  const builder = new RegExp(`\\b(${LEDGER_KEY_BUILDERS.join('|')})\\b`, 'g');
  return files
    .filter((f) => /^services\/[^/]+\/src\//.test(f.path) && !/\/src\/adapters\//.test(f.path))
    .flatMap((f) =>
      [...new Set([...f.source.matchAll(builder)].map((m) => m[1]!))].map((name) => ({
        file: f.path,
        builder: name,
      })),
    );
}

/** One import that ties a cycle: the importing file, the specifier it wrote, the file it names. */
export interface CycleImport {
  file: string;
  specifier: string;
  target: string;
}

export interface ImportCycle {
  /** The files that import each other, directly or through the rest, sorted. */
  files: string[];
  /** Every import from one of these files to another (each one is part of some cycle). */
  imports: CycleImport[];
}

/**
 * Import cycles among the files: each set of files that reach one another through relative
 * imports (a strongly connected component of the import graph, found by Tarjan's algorithm), and
 * a file that imports itself. Every form of import counts, type-only ones included: a cycle of
 * types is still two modules that cannot be read, moved or understood apart. Packages are no
 * part of the graph, and a specifier that names no file among `files` is left out.
 */
export function importCycles(files: readonly SourceFile[]): ImportCycle[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const edges = new Map<string, CycleImport[]>();
  for (const file of files) {
    const out: CycleImport[] = [];
    for (const specifier of importSpecifiers(file.source)) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveRelative(file.path, specifier, byPath);
      if (target && !out.some((e) => e.specifier === specifier)) {
        out.push({ file: file.path, specifier, target });
      }
    }
    edges.set(file.path, out);
  }

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: ImportCycle[] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const { target: w } of edges.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.add(w);
      if (w === v) break;
    }
    const imports = [...component]
      .flatMap((f) => edges.get(f)!)
      .filter((e) => component.has(e.target));
    if (imports.length === 0) return;
    cycles.push({
      files: [...component].sort(),
      imports: imports.sort(
        (a, b) => a.file.localeCompare(b.file) || a.target.localeCompare(b.target),
      ),
    });
  };
  for (const file of files) if (!index.has(file.path)) visit(file.path);
  return cycles.sort((a, b) => a.files[0]!.localeCompare(b.files[0]!));
}
