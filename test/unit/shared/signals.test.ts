import {
  LAUNCHER_PID_ENV,
  onStopSignal,
  REPEAT_SIGNAL_MS,
  UNATTENDED_STOP_MS,
} from '../../../shared/src/cli/signals';

/** Above Linux's largest pid (2^22): no process has it. */
const NO_SUCH_PID = 99_999_999;

describe('onStopSignal', () => {
  let now = 1_000_000;
  let exit: jest.SpyInstance;
  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    // The deadline says why it exits on stderr.
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  it('stops on the first signal, ignores the same Ctrl-C relayed again, and exits 128 + the signal on a later one', () => {
    const stops: string[] = [];
    const forced: string[] = [];
    const release = onStopSignal(
      (s) => stops.push(s),
      (s) => forced.push(s),
    );
    try {
      process.emit('SIGINT', 'SIGINT');
      // The scripts' launcher passes the group's Ctrl-C on to node: the same request again.
      now += 5;
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGTERM', 'SIGTERM');
      now += REPEAT_SIGNAL_MS - 10;
      process.emit('SIGINT', 'SIGINT');
      expect(stops).toEqual(['SIGINT']);
      expect(forced).toEqual([]);
      expect(exit).not.toHaveBeenCalled();

      process.emit('SIGHUP', 'SIGHUP');
      expect(forced).toEqual([]);
      now += 10;
      process.emit('SIGTERM', 'SIGTERM');
      expect(forced).toEqual(['SIGTERM']);
      expect(exit).toHaveBeenCalledWith(143);
      expect(stops).toEqual(['SIGINT']);
    } finally {
      release();
    }
  });

  it('listens for SIGINT, SIGTERM and SIGHUP, and removes its handlers when released', () => {
    const count = () =>
      ['SIGINT', 'SIGTERM', 'SIGHUP'].reduce((n, s) => n + process.listenerCount(s), 0);
    const before = count();
    const release = onStopSignal(() => {});
    expect(count()).toBe(before + 3);
    release();
    expect(count()).toBe(before);
  });

  describe('started by the launcher (local/launch.cjs sets LAB_LAUNCHER_PID)', () => {
    const saved = process.env[LAUNCHER_PID_ENV];
    afterEach(() => {
      jest.useRealTimers();
      if (saved === undefined) delete process.env[LAUNCHER_PID_ENV];
      else process.env[LAUNCHER_PID_ENV] = saved;
    });

    /** The module as a CLI loads it: a fresh copy, with the variable as the launcher set it. */
    function load(launcherPid: number): typeof import('../../../shared/src/cli/signals') {
      process.env[LAUNCHER_PID_ENV] = String(launcherPid);
      let mod: typeof import('../../../shared/src/cli/signals') | undefined;
      jest.isolateModules(() => {
        mod = require('../../../shared/src/cli/signals');
      });
      return mod!;
    }

    it("takes the variable away as it loads (a node it starts is not the launcher's child) and watches from then on", () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      const signals = load(process.ppid);
      expect(process.env[LAUNCHER_PID_ENV]).toBeUndefined();
      expect(jest.getTimerCount()).toBe(1);
      const stops: string[] = [];
      const release = signals.onStopSignal((r) => stops.push(r));
      jest.advanceTimersByTime(signals.LAUNCHER_CHECK_MS * 4);
      expect(stops).toEqual([]);
      release();
      jest.clearAllTimers();
    });

    it('a launcher gone before the CLI asks (killed while node started) stops it at once; nobody is left to force the exit, so it ends after UNATTENDED_STOP_MS', () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      // The parent is not the pid the launcher gave: the launcher is gone.
      const signals = load(NO_SUCH_PID);
      expect(jest.getTimerCount()).toBe(0);
      const stops: string[] = [];
      const release = signals.onStopSignal((r) => stops.push(r));
      try {
        jest.advanceTimersByTime(1);
        expect(stops).toEqual(['launcher gone']);
        jest.advanceTimersByTime(signals.UNATTENDED_STOP_MS - 10);
        expect(exit).not.toHaveBeenCalled();
        jest.advanceTimersByTime(10);
        expect(exit).toHaveBeenCalledWith(1);
      } finally {
        release();
      }
    });

    it('a launcher that runs but is not its parent (a node started by a node it started, as under --watch) is not watched', () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      const signals = load(process.pid); // alive, and not this process's parent
      expect(jest.getTimerCount()).toBe(0);
      const stops: string[] = [];
      const release = signals.onStopSignal((r) => stops.push(r));
      jest.advanceTimersByTime(signals.LAUNCHER_CHECK_MS * 4);
      expect(stops).toEqual([]);
      release();
    });

    it('a signal stop has no deadline; the launcher gone after it (SIGTERM, then SIGKILL) forces nothing but bounds the stop', () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      const signals = load(NO_SUCH_PID);
      const stops: string[] = [];
      const forced: string[] = [];
      const release = signals.onStopSignal(
        (r) => stops.push(r),
        (s) => forced.push(s),
      );
      try {
        process.emit('SIGTERM', 'SIGTERM'); // before the launcher's loss is delivered
        now += REPEAT_SIGNAL_MS * 2;
        jest.advanceTimersByTime(1);
        expect(stops).toEqual(['SIGTERM']);
        expect(forced).toEqual([]);
        expect(exit).not.toHaveBeenCalled();
        jest.advanceTimersByTime(signals.UNATTENDED_STOP_MS);
        expect(exit).toHaveBeenCalledWith(1);
      } finally {
        release();
      }
    });

    it('a stop on a signal alone is never ended by the deadline', () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      const release = onStopSignal(() => {});
      try {
        process.emit('SIGTERM', 'SIGTERM');
        jest.advanceTimersByTime(UNATTENDED_STOP_MS * 2);
        expect(exit).not.toHaveBeenCalled();
      } finally {
        release();
      }
    });

    it('a stop that finished and released its handlers is not ended by the deadline', () => {
      jest.useFakeTimers({ doNotFake: ['Date'] });
      const signals = load(NO_SUCH_PID);
      const release = signals.onStopSignal(() => {});
      jest.advanceTimersByTime(1);
      release();
      jest.advanceTimersByTime(signals.UNATTENDED_STOP_MS * 2);
      expect(exit).not.toHaveBeenCalled();
    });
  });
});
