import { main } from '../../../../lab/soak/run';

describe('npm run soak', () => {
  it('rejects a bad flag before starting anything', async () => {
    await expect(main(['--faults', 'sometimes'])).rejects.toThrow(
      /--faults must be one of none, realistic, demo, chaos/,
    );
    await expect(main(['--crash-rate', '2'])).rejects.toThrow(/--crash-rate/);
  });
});
