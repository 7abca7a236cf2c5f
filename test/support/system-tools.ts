import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/**
 * The system programs some tests need (Debian's chromium for the browser tests, the AWS CLI v2
 * for the Query protocol), installed on demand where this machine allows it. Where it does not
 * (not root, no apt-get, the install failed), the tests that need one are reported as skipped
 * with that reason in their name: never failed, never passed. On CI (`CI` set, as `.ci/run`
 * does) they always run, so a missing program fails the build instead of hiding.
 */

export interface ToolSpec {
  /** What the tests call it. */
  name: string;
  /** The file that must exist once installed. */
  bin: string;
  /** The Debian package that provides it. */
  aptPackage: string;
}

export const CHROMIUM: ToolSpec = {
  name: 'chromium',
  bin: '/usr/bin/chromium',
  aptPackage: 'chromium',
};
export const AWS_CLI: ToolSpec = { name: 'the AWS CLI', bin: '/usr/bin/aws', aptPackage: 'awscli' };

export type ToolStatus = { available: true } | { available: false; reason: string };

/** What resolveTool needs from the machine; the real one by default, fakes in its unit test. */
export interface Machine {
  exists(path: string): boolean;
  isRoot(): boolean;
  /** Files in apt's package lists directory (none on a fresh image until `apt-get update`). */
  aptLists(): string[];
  run(command: string, args: string[]): void;
}

const APT_GET = '/usr/bin/apt-get';
const APT_LISTS = '/var/lib/apt/lists';

export const realMachine: Machine = {
  exists: existsSync,
  isRoot: () => process.getuid?.() === 0,
  aptLists: () => {
    try {
      return readdirSync(APT_LISTS).filter(
        (f) => f !== 'lock' && f !== 'partial' && f !== 'auxfiles',
      );
    } catch {
      return [];
    }
  },
  run: (command, args) => {
    execFileSync(command, args, {
      stdio: 'pipe',
      timeout: 900_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  },
};

/** apt waits for another install (a parallel test file) instead of failing on dpkg's lock. */
const APT_OPTIONS = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3', '-q', '-y'];

/** Makes `tool` available if this machine allows it; says why not otherwise. */
export function resolveTool(tool: ToolSpec, machine: Machine = realMachine): ToolStatus {
  if (machine.exists(tool.bin)) return { available: true };
  if (!machine.exists(APT_GET)) {
    return {
      available: false,
      reason: `${tool.name} missing and no apt-get here: install ${tool.aptPackage} yourself`,
    };
  }
  if (!machine.isRoot()) {
    return {
      available: false,
      reason: `${tool.name} missing and not root: run "apt-get install ${tool.aptPackage}" as root`,
    };
  }
  const first = (err: unknown) => ((err as Error).message ?? String(err)).split('\n')[0];
  if (machine.aptLists().length === 0) {
    // A fresh image ships without package lists: install would find no package at all.
    try {
      machine.run(APT_GET, [...APT_OPTIONS, 'update']);
    } catch (err) {
      return {
        available: false,
        reason: `${tool.name} missing and apt-get update failed: ${first(err)}`,
      };
    }
  }
  try {
    machine.run(APT_GET, [...APT_OPTIONS, 'install', '--no-install-recommends', tool.aptPackage]);
  } catch (err) {
    return {
      available: false,
      reason: `${tool.name} missing and apt-get install ${tool.aptPackage} failed: ${first(err)}`,
    };
  }
  if (!machine.exists(tool.bin)) {
    return {
      available: false,
      reason: `apt-get install ${tool.aptPackage} did not provide ${tool.bin}`,
    };
  }
  return { available: true };
}

const cache = new Map<string, ToolStatus>();

/** resolveTool once per test process. */
export function systemTool(tool: ToolSpec): ToolStatus {
  let status = cache.get(tool.bin);
  if (!status) {
    status = resolveTool(tool);
    cache.set(tool.bin, status);
  }
  return status;
}

/** Throws the reason a tool is missing: for code that needs it whatever the test says. */
export function requireTool(tool: ToolSpec): void {
  const status = systemTool(tool);
  if (!status.available) throw new Error(`${tool.name} is required here: ${status.reason}`);
}

/**
 * `describe` for tests that need `tool`: skipped, with the reason in the name, when it cannot be
 * had here; always run on CI, where a missing tool must fail.
 */
export function describeWithTool(tool: ToolSpec, name: string, fn: () => void): void {
  const status = systemTool(tool);
  if (status.available || process.env.CI) describe(name, fn);
  else describe.skip(`${name} [skipped: ${status.reason}]`, fn);
}
