import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TABLE_ACTIONS } from '../../infra/lib/order-pipeline-stack';
import { buildUnbundled } from './support/unbundled';

const ROOT = resolve(__dirname, '../..');

// lib-dynamodb command class -> the IAM action it needs.
const DOCUMENT_COMMANDS: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** IAM actions for the lib-dynamodb commands a service's source imports and uses. */
function actionsUsedBy(service: 'producer' | 'consumer'): string[] {
  const used = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'services', service, 'src'))) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes('@aws-sdk/lib-dynamodb')) continue;
    for (const [, command] of text.matchAll(/new (\w+Command)\(/g)) {
      if (!command || !/^(Get|Put|Update|Delete|Query|Scan|Batch|Transact)/.test(command)) continue;
      const action = DOCUMENT_COMMANDS[command];
      // A command this map does not know needs its IAM action added here and in TABLE_ACTIONS.
      if (!action) throw new Error(`${file}: unmapped DynamoDB command ${command}`);
      used.add(action);
    }
  }
  return [...used].sort();
}

/** IAM actions for the DynamoDB commands Powertools' persistence layer sends. */
function actionsUsedByPowertools(): string[] {
  const text = readFileSync(require.resolve('@aws-lambda-powertools/idempotency/dynamodb'), 'utf8');
  const names = new Set(text.match(/\b(Get|Put|Update|Delete)ItemCommand\b/g) ?? []);
  return [...names].map((n) => `dynamodb:${n.replace(/Command$/, '')}`).sort();
}

function grantedOn(tableLogicalPrefix: string, rolePrefix: string): string[] {
  const template = buildUnbundled().template();
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes(rolePrefix),
  );
  const actions = new Set<string>();
  for (const p of policies) {
    for (const st of p.Properties.PolicyDocument.Statement) {
      if (!JSON.stringify(st.Resource).includes(tableLogicalPrefix)) continue;
      for (const a of [st.Action].flat()) actions.add(a);
    }
  }
  return [...actions].sort();
}

describe('DynamoDB grants match what the code calls', () => {
  it('grants the producer exactly the ledger actions its adapters send', () => {
    const used = actionsUsedBy('producer');
    expect(used.length).toBeGreaterThan(0);
    expect([...TABLE_ACTIONS.producerLedger].sort()).toEqual(used);
    expect(grantedOn('ledgertable', 'producerrole')).toEqual(used);
    expect(grantedOn('idempotencytable', 'producerrole')).toEqual([]);
  });

  it.each(['fifo', 'standard'] as const)(
    'grants the %s consumer exactly the ledger and idempotency actions it sends',
    (kind) => {
      const role = `consumer${kind}functionrole`;
      const ledgerUsed = actionsUsedBy('consumer');
      expect([...TABLE_ACTIONS.consumerLedger].sort()).toEqual(ledgerUsed);
      expect(grantedOn('ledgertable', role)).toEqual(ledgerUsed);
      expect(actionsUsedByPowertools()).toHaveLength(4);
      // Beside Powertools' own, the batch write the invocation's end sends through the ledger
      // adapter carries the COMPLETED records the consumer's persistence layer holds.
      const store = readFileSync(
        join(ROOT, 'services/consumer/src/adapters/idempotency-store.ts'),
        'utf8',
      );
      expect(store).toMatch(/\btakeHeld\(\)/);
      const idempotencyUsed = [...actionsUsedByPowertools(), 'dynamodb:BatchWriteItem'].sort();
      expect([...TABLE_ACTIONS.idempotency].sort()).toEqual(idempotencyUsed);
      expect(grantedOn('idempotencytable', role)).toEqual(idempotencyUsed);
    },
  );
});
