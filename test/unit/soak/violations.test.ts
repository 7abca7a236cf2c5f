import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { main, violations } from '../../soak/run';

function reportWith(overrides: {
  fifo?: Record<string, number>;
  standard?: Record<string, number>;
}) {
  const report = buildReport({
    runId: 'soak-unit',
    target: 'local',
    config: pipelineConfig,
    ledger: { accepted: [], deliveries: [], effects: [], failures: [] },
  }).report;
  Object.assign(report.queues.fifo, overrides.fifo ?? {});
  Object.assign(report.queues.standard, overrides.standard ?? {});
  return report;
}

describe('soak invariants', () => {
  it('passes a run with nothing lost, no duplicate effect and FIFO in order', () => {
    expect(
      violations(reportWith({ standard: { outOfOrder: 40, duplicateDeliveries: 12 } })),
    ).toEqual([]);
  });

  it('names every broken invariant with its queue and count', () => {
    const found = violations(
      reportWith({
        fifo: { lost: 2, outOfOrder: 1 },
        standard: { duplicateEffects: 3, inDlq: 1 },
      }),
    );
    expect(found).toEqual([
      'fifo: 2 orders lost',
      'standard: 3 effects applied twice',
      'standard: 1 orders in the DLQ (every injected fault heals)',
      'fifo: 1 out-of-order applies',
    ]);
  });

  it('rejects a bad flag before starting anything', async () => {
    await expect(main(['--faults', 'sometimes'])).rejects.toThrow(
      /--faults must be one of none, realistic, demo, chaos/,
    );
  });
});
