// `tessera demo` (what `npm start` runs): two federated nodes over mTLS add and approve each other, a fact
// crosses from a to b, an intruder with a valid certificate from the same CA is refused, and the printed
// commands carry the real ports and files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

test('demo: peering both ways, a fact crosses a → b, intruder refused, curl commands printed', async (t) => {
  const dir = await tempDir(t);
  const { code, stdout, stderr } = await runCli(['demo', '--data-dir', dir, '--once']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /a added and approved b: manifest signature valid, TLS URI SAN = manifest entity_uri/);
  assert.match(stdout, /b added and approved a: /);
  assert.match(
    stdout,
    /b received it after \d+ ms over mTLS \(origin spiffe:\/\/example\.org\/node\/a, from spiffe:\/\/example\.org\/node\/a\)/,
  );
  assert.match(
    stdout,
    /intruder \(valid certificate from the same CA, not a peer\) → a: 403 peer_not_approved/,
  );
  assert.match(
    stdout,
    /curl -s --cert \S+\/b\.crt --key \S+\/b\.key --cacert \S+\/ca\.crt https:\/\/127\.0\.0\.1:\d+\/\.well-known\/tessera-manifest\.json/,
  );
  assert.match(
    stdout,
    /curl -s -H 'Authorization: Bearer \S+' 'http:\/\/127\.0\.0\.1:\d+\/v1\/facts\?entity=demo:sensor\/1'/,
  );
  // A second run reuses the dev CA and starts the nodes from empty state again.
  const again = await runCli(['demo', '--data-dir', dir, '--once']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(CA reused\)/);
  assert.match(again.stdout, /b received it after/);
});
