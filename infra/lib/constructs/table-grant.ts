import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';

/**
 * Grants `actions` on the table itself and not on its indexes. `Table.grant` adds
 * `<table>/index/*` as soon as the table has an index; no function reads one (only the report,
 * with the caller's own credentials, queries `byRun`), and a wildcard it does not need is one
 * cdk-nag rightly refuses.
 */
export function grantOnTable(table: Table, grantee: IGrantable, actions: readonly string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: [...actions], resources: [table.tableArn] }),
  );
}
