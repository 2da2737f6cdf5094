// Which errors mean the database (not the statement) refused a write, and how readiness names them.
import { StoreError } from '../errors.ts';
import { pgCode } from './sql.ts';

/** SQLSTATE classes and codes that mean the server or the connection failed, not the statement. */
const SERVER_FAILURES = [
  '08', // connection exception
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only
  '53', // insufficient resources: 53100 disk full, 53200 out of memory, 53300 too many connections
  '57P', // operator intervention: 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now
  '58', // system error: 58030 I/O error
  'XX', // internal error, data corrupted
];

/** Socket errors of the connection to the server. */
const SOCKET_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** pg's own connection errors carry no code, only these messages. */
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** True when `error` says the database is unavailable or cannot take writes (what readiness reports). */
export function isServerFailure(error: unknown): boolean {
  if (error instanceof StoreError && error.code === 'store_unavailable') return true;
  const code = pgCode(error);
  if (code !== '')
    return SOCKET_FAILURES.has(code) || SERVER_FAILURES.some((prefix) => code.startsWith(prefix));
  return PG_CONNECTION_MESSAGES.test(String((error as Error | null)?.message ?? ''));
}

/** `<code>: <message>` (e.g. `53100: could not extend file …`, `ECONNREFUSED: connect ECONNREFUSED …`). */
export function describeFailure(error: unknown): string {
  const code = pgCode(error);
  let message = String((error as Error | null)?.message ?? error);
  // A host with several addresses fails with an AggregateError whose own message is empty.
  if (message === '' && error instanceof AggregateError)
    message = error.errors.map((inner) => String((inner as Error)?.message ?? inner)).join('; ');
  return code === '' ? message : `${code}: ${message}`;
}

/**
 * A server or connection failure as the store's `store_unavailable` (the node answers 503 and retries
 * nothing by itself; the pool reconnects when the server is back); any other error unchanged.
 */
export function asUnavailable(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  // Work inside a transaction may wrap the database's failure in its own error (an audit entry written
  // with its action reports AuditWriteError): the cause still says the database is gone.
  const cause = (error as { cause?: unknown } | null)?.cause;
  const failure = isServerFailure(error) ? error : isServerFailure(cause) ? cause : undefined;
  if (failure === undefined) return error;
  return new StoreError(
    'store_unavailable',
    `the PostgreSQL database is unavailable: ${describeFailure(failure)}`,
    {
      cause: error,
    },
  );
}
