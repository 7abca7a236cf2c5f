import { onStopSignal, REPEAT_SIGNAL_MS } from '../../../shared/src/cli/signals';

describe('onStopSignal', () => {
  let now = 1_000_000;
  let exit: jest.SpyInstance;
  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
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
});
