/**
 * The flags node starts with in every npm script that runs the local cloud or a benchmark of it
 * (`npm start`, `demo`, `soak`, `experiment`, `bench:*`): each script spells them out, since
 * package.json cannot import, and test/unit/local/node-flags.test.ts holds every script to this
 * list; bench:sqs passes them on to the servers it starts.
 *
 * `--optimize-for-size` makes V8 grow each isolate's heap in small steps: after a full
 * collection the next limit is 1.3x what survived or 2 MB more, whichever is larger, instead of
 * up to 4x (the main thread, on a machine with this much memory) and at least 8 MB more (each
 * worker); and every isolate's young generation stays near its first size, 1 MB semi-spaces
 * on Node 20 (Node 24's V8 still grows them in 256 KB steps, to 3-4 MB of young generation here
 * with passing peaks near 8), where the main thread's would grow to 32 MB (64 on Node 24) and
 * each worker's to its `maxYoungGenerationSizeMb` (neither that nor `--max-semi-space-size`
 * raises it while this flag is on). Measured without the flag
 * (`--heap-growing-percent=30` in its place), bench:pipeline spent about 0.9x the CPU per order
 * whatever the young generations' size (2, 4 MB, or the workers' caps), and peaked about 40 MiB
 * higher with 2 MB, 80 with 4 MB and 160 with the caps (docs/benchmarks.md, issue 13).
 * The local cloud runs 16 isolates (main, DynamoDB's thread, 14 function environments),
 * each holding up to that headroom of garbage at the demo's peak: `npm run demo` peaked at 743 MiB of RSS without the
 * flag and 521-524 MiB with it, in 3-25% more wall time (2 cores, docs/benchmarks.md, issue 13).
 * An environment's heap cap stays the function's memory size. It is a start flag because the
 * main thread's young generation is sized when the process starts; as a flag on the command line
 * it works on every platform, where a variable in a script's environment (`VAR=x cmd`) would not
 * run under Windows' cmd. Running a CLI any other way (`npx tsx lab/demo/cli.ts`) runs it without.
 */
export const NODE_MEMORY_FLAGS: readonly string[] = ['--optimize-for-size'];

/**
 * The environment the same scripts start node in. glibc reads it when a process starts, so it
 * cannot be set from inside the process: each script runs `node local/launch.cjs <flags> <cli>`,
 * which starts node again with it set, the arguments untouched, signals passed on and the child's
 * exit code or signal as its own (about 7 MB of memory of its own; the node binary's pages are
 * shared). bench:sqs passes it to the servers it starts. A CLI run any other way
 * (`npx tsx lab/demo/cli.ts`) runs without it.
 *
 * `MALLOC_ARENA_MAX=2`: glibc's malloc gives each new thread that allocates an arena of its own,
 * up to 8 per core, and what a thread frees stays in its arena for that arena's next allocations
 * (the cloud just started holds 15 arenas here, 1 with the variable). With two, `npm run demo`
 * peaked at 472,508-487,448 kB against 507,992-535,504 kB (five runs each, in turn), with the
 * same CPU and wall time (2 cores, docs/benchmarks.md, issue 13). It means nothing on macOS,
 * Windows or musl.
 *
 * On Node 20 the launcher also puts `--interrupt-budget=270336` (4x V8's default) in front of the
 * arguments: V8 waits four times as long before it considers a function for TurboFan, so the 16
 * isolates optimise what stays hot instead of every SDK function that ran a few dozen times, and
 * V8's helper threads compile far less. bench:pipeline spent 0.86-0.89x the process CPU per
 * order, the demo 0.90-0.99x in 0.73-0.91x the wall time (docs/benchmarks.md, issue 13). Not
 * in the scripts themselves: Node 24's V8 has no such flag and refuses to start with it, and
 * Node 22 and later (Maglev) were not measured, so there the launcher adds nothing. bench:sqs's
 * servers start without it.
 */
export const NODE_MEMORY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
