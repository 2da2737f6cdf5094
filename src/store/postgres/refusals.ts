// What a table cannot hold, checked before the INSERT of a hot statement (a fact or a revocation: hundreds
// per replication page, each page one transaction). Those run without a savepoint (sql.ts `guarded`), so a
// refusal must come from here, never from the server, where it would abort the caller's transaction.
import { SCOPES } from '../ports/facts.ts';
import { FACT_COLUMNS, type FactParams } from '../sqlite/facts.ts';

/** Why a row with these values refuses (NOT NULL, or a NUL character text cannot hold), or null. */
export function rowRefusal(
  columns: readonly string[],
  values: readonly unknown[],
  nullable: ReadonlySet<string>,
): string | null {
  for (const [i, value] of values.entries()) {
    const column = columns[i]!;
    if (value === null || value === undefined) {
      if (!nullable.has(column)) return `${column} must not be null`;
    } else if (typeof value === 'string' && value.includes('\u0000')) {
      // PostgreSQL text cannot hold a NUL character (SQLite can): refused rather than altered.
      return `${column} contains a NUL character`;
    }
  }
  return null;
}

const FACT_INSERT_COLUMNS = FACT_COLUMNS.replace('seq, ', '').split(', ');
const FACT_NULLABLE = new Set(['valid_until', 'attested', 'received_from', 'origin_kid', 'origin_sig']);
const SCOPE_SET: ReadonlySet<unknown> = new Set(SCOPES);

/** Why the facts table refuses these INSERT parameters (its NOT NULLs and CHECKs), or null. */
export function factRefusal(params: FactParams): string | null {
  const refusal = rowRefusal(FACT_INSERT_COLUMNS, params, FACT_NULLABLE);
  if (refusal !== null) return refusal;
  const [, , , , , , confidence, scope] = params;
  if (typeof confidence !== 'number' || Number.isNaN(confidence)) return 'confidence must be a number';
  if (!SCOPE_SET.has(scope)) return `scope must be one of ${SCOPES.join(', ')}`;
  return null;
}
