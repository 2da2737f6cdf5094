// Which errors the PostgreSQL store reports as `store_unavailable` (the node's 503): the server's and the
// connection's failures, also when work inside a transaction wrapped them in its own error; nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditWriteError } from '../../src/node/features/audit/audit-log.ts';
import { StoreError } from '../../src/store/errors.ts';
import { asUnavailable } from '../../src/store/postgres/failures.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
const shutdown = pgError('57P01', 'terminating connection due to administrator command');

test('a server failure becomes store_unavailable naming its code', () => {
  const mapped = asUnavailable(shutdown);
  assert.ok(mapped instanceof StoreError);
  assert.equal(mapped.code, 'store_unavailable');
  assert.match(mapped.message, /57P01: terminating connection due to administrator command/);
});

test('a server failure wrapped by work inside a transaction (an audit entry) is still store_unavailable', () => {
  const wrapped = new AuditWriteError('fact_write', 'audit entry fact_write could not be written', {
    cause: shutdown,
  });
  const mapped = asUnavailable(wrapped);
  assert.ok(mapped instanceof StoreError);
  assert.equal(mapped.code, 'store_unavailable');
  assert.equal(mapped.cause, wrapped, 'the wrapping error is kept as the cause');
});

test('a statement failure, wrapped or not, and a StoreError are left as they are', () => {
  const unique = pgError('23505', 'duplicate key value violates unique constraint');
  assert.equal(asUnavailable(unique), unique);
  const wrapped = new AuditWriteError('fact_write', 'could not be written', { cause: unique });
  assert.equal(asUnavailable(wrapped), wrapped);
  const storeError = new StoreError(
    'tx_finished',
    'a transaction handle was used after its transaction ended',
  );
  assert.equal(asUnavailable(storeError), storeError);
});
