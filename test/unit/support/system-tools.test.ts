import { type Machine, resolveTool, type ToolSpec } from '../../support/system-tools';

const TOOL: ToolSpec = { name: 'chromium', bin: '/usr/bin/chromium', aptPackage: 'chromium' };

/** A machine in a given state that records what it was asked to run. */
function machine(state: {
  installed?: boolean;
  apt?: boolean;
  root?: boolean;
  lists?: string[];
  failOn?: 'update' | 'install';
  installProvides?: boolean;
}): Machine & { ran: string[] } {
  let installed = state.installed ?? false;
  const ran: string[] = [];
  return {
    ran,
    exists: (path) =>
      path === TOOL.bin ? installed : path === '/usr/bin/apt-get' ? (state.apt ?? true) : false,
    isRoot: () => state.root ?? true,
    aptLists: () => state.lists ?? ['deb.debian.org_debian_dists_bookworm_InRelease'],
    run: (_cmd, args) => {
      const verb = args.includes('update') ? 'update' : 'install';
      ran.push(verb);
      if (state.failOn === verb) throw new Error(`E: ${verb} went wrong\nmore detail`);
      if (verb === 'install' && (state.installProvides ?? true)) installed = true;
    },
  };
}

describe('installing the programs some tests need', () => {
  it('uses an installed program as it is', () => {
    const m = machine({ installed: true });
    expect(resolveTool(TOOL, m)).toEqual({ available: true });
    expect(m.ran).toEqual([]);
  });

  it('installs a missing program as root', () => {
    const m = machine({});
    expect(resolveTool(TOOL, m)).toEqual({ available: true });
    expect(m.ran).toEqual(['install']);
  });

  it('runs apt-get update first when the package lists are empty (a fresh image)', () => {
    const m = machine({ lists: [] });
    expect(resolveTool(TOOL, m)).toEqual({ available: true });
    expect(m.ran).toEqual(['update', 'install']);
  });

  it.each([
    ['not root', { root: false }, /not root: run "apt-get install chromium" as root/],
    ['no apt-get', { apt: false }, /no apt-get here/],
    [
      'a failed update',
      { lists: [], failOn: 'update' as const },
      /apt-get update failed: E: update went wrong$/,
    ],
    [
      'a failed install',
      { failOn: 'install' as const },
      /apt-get install chromium failed: E: install went wrong$/,
    ],
    [
      'an install without the file',
      { installProvides: false },
      /did not provide \/usr\/bin\/chromium/,
    ],
  ])('says why it is unavailable with %s', (_, state, reason) => {
    const status = resolveTool(TOOL, machine(state));
    expect(status.available).toBe(false);
    expect(status.available ? '' : status.reason).toMatch(reason);
  });
});
