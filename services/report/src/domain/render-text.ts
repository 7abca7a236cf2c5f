import type { Report } from './report';
import { comparisonRows } from './rows';

/** The side-by-side table for a terminal. */
export function renderTable(report: Report): string {
  const rows = comparisonRows(report);
  const head = { label: 'metric', fifo: 'fifo', standard: 'standard' };
  const w0 = Math.max(head.label.length, ...rows.map((r) => r.label.length));
  const w1 = Math.max(head.fifo.length, ...rows.map((r) => r.fifo.length));
  const w2 = Math.max(head.standard.length, ...rows.map((r) => r.standard.length));
  const line = (a: string, b: string, c: string) =>
    `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(w2)}`;
  return [
    `run ${report.runId} (${report.target}), generated ${report.generatedAt}`,
    '',
    line(head.label, head.fifo, head.standard),
    line('-'.repeat(w0), '-'.repeat(w1), '-'.repeat(w2)),
    ...rows.map((r) => line(r.label, r.fifo, r.standard)),
    ...(report.notes.length > 0 ? ['', ...report.notes.map((n) => `note: ${n}`)] : []),
    '',
  ].join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(report: Report): string {
  const rows = comparisonRows(report);
  const cfg = report.config.queues;
  return [
    `# Order pipeline report: run \`${report.runId}\``,
    '',
    `Target: ${report.target}. Generated ${report.generatedAt}. Accepted orders: ${report.accepted}.`,
    '',
    '| metric | fifo | standard |',
    '|---|---:|---:|',
    ...rows.map((r) => `| ${cell(r.label)} | ${cell(r.fifo)} | ${cell(r.standard)} |`),
    '',
    '## Settings',
    '',
    '| setting | fifo | standard |',
    '|---|---:|---:|',
    `| queue | ${cfg.fifo.queueName} | ${cfg.standard.queueName} |`,
    `| batch size | ${cfg.fifo.batchSize} | ${cfg.standard.batchSize} |`,
    `| maximum concurrency | ${cfg.fifo.maximumConcurrency} | ${cfg.standard.maximumConcurrency} |`,
    `| batch processing | ${cfg.fifo.processing} | ${cfg.standard.processing} |`,
    `| maxReceiveCount | ${cfg.fifo.maxReceiveCount} (${cfg.fifo.maxReceiveCountFrom}) | ${cfg.standard.maxReceiveCount} (${cfg.standard.maxReceiveCountFrom}) |`,
    `| visibility timeout | ${cfg.fifo.visibilityTimeoutSeconds} s (${cfg.fifo.visibilityTimeoutSecondsFrom}) | ${cfg.standard.visibilityTimeoutSeconds} s (${cfg.standard.visibilityTimeoutSecondsFrom}) |`,
    `| function timeout | ${cfg.fifo.functionTimeoutSeconds} s (${cfg.fifo.functionTimeoutSecondsFrom}) | ${cfg.standard.functionTimeoutSeconds} s (${cfg.standard.functionTimeoutSecondsFrom}) |`,
    '',
    ...(report.notes.length > 0 ? ['## Notes', '', ...report.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
