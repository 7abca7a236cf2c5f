import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { Synthesized } from '../support/synth';

/** Registers the tests; `get` returns the one synthesis shared by template.test.ts. */
export function cdkNagTests(get: () => Synthesized): void {
  let s!: Synthesized;
  beforeAll(() => {
    s = get();
  });

  function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
    const out: { path: string; id: string; reason: string }[] = [];
    for (const c of root.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          out.push({ path: c.node.path, id, reason });
        }
      }
    }
    return out;
  }

  describe('cdk-nag AwsSolutions', () => {
    it('reports no unacknowledged finding', () => {
      const report = JSON.parse(
        readFileSync(join(s.assembly.directory, 'validation-report.json'), 'utf8'),
      ) as { pluginReports: { violations?: unknown[] }[] };
      const violations = report.pluginReports.flatMap((r) => r.violations ?? []);
      expect(violations).toEqual([]);
    });

    it('gives every acknowledgement a specific reason', () => {
      const acks = acknowledgements(s.stack);
      expect(acks.length).toBeGreaterThan(0);
      for (const ack of acks) {
        expect(ack.id).toMatch(/AwsSolutions-[A-Z]+\d+/);
        expect(ack.reason.length).toBeGreaterThanOrEqual(60);
        expect(ack.reason).not.toMatch(/\b(todo|tbd|n\/a|not needed|suppress(ed)?)\b/i);
      }
      // One reason per rule and place, not one sentence pasted over everything.
      const byRule = new Map<string, Set<string>>();
      for (const ack of acks) {
        const rule = ack.id.replace(/\[.*$/, '');
        byRule.set(rule, (byRule.get(rule) ?? new Set()).add(ack.reason));
      }
      const allReasons = new Set(acks.map((a) => a.reason));
      expect(allReasons.size).toBeGreaterThanOrEqual(byRule.size);
    });

    it('fails synthesis on an unacknowledged finding (the checks are really on)', () => {
      const app = new App();
      const stack = new Stack(app, 'nag-probe');
      new Queue(stack, 'queue-without-dlq');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4/);
    });
  });
}
