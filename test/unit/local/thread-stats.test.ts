import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { THREAD_STATS_SOURCE, type ThreadStats, threadStats } from '../../../local/thread-stats';

const MIB = 1048576;

// Every space name V8 has had in the Node versions we run (20 here, 24 deployed), this Node's
// own, and one V8 may add. Each space gets its own power of two in MiB, so a group's total says
// exactly which spaces went into it.
const NAMES = [
  ...new Set([
    'read_only_space',
    'new_space',
    'old_space',
    'code_space',
    'map_space',
    'shared_space',
    'trusted_space',
    'shared_trusted_space',
    'new_large_object_space',
    'large_object_space',
    'code_large_object_space',
    'shared_large_object_space',
    'trusted_large_object_space',
    'shared_trusted_large_object_space',
    'some_future_space',
    ...v8.getHeapSpaceStatistics().map((s) => s.space_name),
  ]),
];
const SPACES = NAMES.map((space_name, i) => ({
  space_name,
  space_size: 2 ** i * MIB,
  space_used_size: 0,
  space_available_size: 0,
  physical_space_size: 0,
}));
const HEAP = {
  total_heap_size: 123 * MIB,
  malloced_memory: 7 * MIB,
  external_memory: 5 * MIB,
} as v8.HeapInfo;

/** THREAD_STATS_SOURCE's threadStats, evaluated with `require` giving this fake V8. */
function workerThreadStats(heapCalls: { count: number }): () => ThreadStats {
  const fakeV8 = {
    getHeapStatistics: () => {
      heapCalls.count++;
      return HEAP;
    },
    getHeapSpaceStatistics: () => SPACES,
  };
  const fakeRequire = (id: string) => {
    if (id === 'node:v8') return fakeV8;
    if (id === 'node:fs')
      return { readFileSync: () => '1 (x) S 0 0 0 0 0 0 0 0 0 0 3 4 0 0 27 7 1' };
    throw new Error(`unexpected require(${id})`);
  };
  return new Function('require', `${THREAD_STATS_SOURCE}\nreturn threadStats;`)(fakeRequire);
}

describe('threadStats', () => {
  afterEach(() => jest.restoreAllMocks());

  it('groups the same heap spaces the same way in a worker (THREAD_STATS_SOURCE) as in the main thread', () => {
    // Prepare
    jest.spyOn(v8, 'getHeapStatistics').mockReturnValue(HEAP);
    jest.spyOn(v8, 'getHeapSpaceStatistics').mockReturnValue(SPACES);
    const calls = { count: 0 };

    // Act
    const main = threadStats();
    const worker = workerThreadStats(calls)();

    // Assess
    expect(worker.spacesMb).toEqual(main.spacesMb);
    expect(worker.heapMb).toBe(main.heapMb);
    expect(Object.keys(worker.spacesMb ?? {}).sort()).toEqual(
      Object.keys(main.spacesMb ?? {}).sort(),
    );
  });

  it('puts each V8 space in the group the ThreadStats doc names', () => {
    // Prepare
    jest.spyOn(v8, 'getHeapStatistics').mockReturnValue(HEAP);
    jest.spyOn(v8, 'getHeapSpaceStatistics').mockReturnValue(SPACES);
    const size = (...names: string[]) =>
      names.filter((n) => NAMES.includes(n)).reduce((sum, n) => sum + 2 ** NAMES.indexOf(n), 0);
    const others = NAMES.filter(
      (n) =>
        !['new_space', 'old_space', 'code_space', 'code_large_object_space'].includes(n) &&
        !n.endsWith('large_object_space'),
    );

    // Act
    const stats = threadStats();

    // Assess
    expect(stats.heapMb).toBe(123);
    expect(stats.spacesMb).toEqual({
      new: size('new_space'),
      old: size('old_space'),
      code: size('code_space', 'code_large_object_space'),
      large: size(
        'new_large_object_space',
        'large_object_space',
        'shared_large_object_space',
        'trusted_large_object_space',
        'shared_trusted_large_object_space',
      ),
      other: size(...others),
      malloced: 7,
    });
    expect(others).toEqual(
      expect.arrayContaining(['read_only_space', 'map_space', 'some_future_space']),
    );
  });

  it('reads the heap statistics once in a worker and its CPU time and nice value from /proc', () => {
    // Prepare
    const calls = { count: 0 };

    // Act
    const stats = workerThreadStats(calls)();

    // Assess: utime 3 + stime 4 ticks of 10 ms (fields 14 and 15); nice is field 19.
    expect(calls.count).toBe(1);
    expect(stats.cpuMs).toBe(70);
    expect(stats.nice).toBe(7);
    expect(stats.heapMb).toBe(123);
    expect(stats.spacesMb?.malloced).toBe(7);
    expect(stats.externalMb).toBe(5);
  });

  it('leaves externalMb out where V8 does not report external memory', () => {
    // Prepare
    const { external_memory: _, ...older } = HEAP;
    jest.spyOn(v8, 'getHeapStatistics').mockReturnValue(older as v8.HeapInfo);
    jest.spyOn(v8, 'getHeapSpaceStatistics').mockReturnValue(SPACES);

    // Act
    const stats = threadStats();

    // Assess
    expect(stats).not.toHaveProperty('externalMb');
    expect(stats.heapMb).toBe(123);
  });

  it('runs as written in a worker thread', async () => {
    // Prepare: the source as the runtimes embed it, in a CommonJS worker with the real V8.
    const worker = new Worker(
      `${THREAD_STATS_SOURCE}\nrequire('node:worker_threads').parentPort.postMessage(threadStats());`,
      { eval: true },
    );

    // Act
    const stats = await new Promise<ThreadStats>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();

    // Assess
    expect(stats.heapMb).toBeGreaterThan(0);
    expect(Object.keys(stats.spacesMb ?? {}).sort()).toEqual([
      'code',
      'large',
      'malloced',
      'new',
      'old',
      'other',
    ]);
    // Every group is there and a number; the totals move with the live heap, so no exact sum.
    for (const mb of Object.values(stats.spacesMb ?? {})) expect(mb).toBeGreaterThanOrEqual(0);
    expect(stats.spacesMb?.old).toBeGreaterThan(0);
    expect(stats.externalMb).toBeGreaterThanOrEqual(0);
  });
});
