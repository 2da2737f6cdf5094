// `tessera demo` (what `npm start` runs): two peers prove themselves to each other over mTLS and an
// intruder holding a valid certificate from the same CA is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

test('demo: mutual identification both ways, intruder refused with its reason, curl commands printed', async (t) => {
  const dir = await tempDir(t);
  const { code, stdout, stderr } = await runCli(['demo', '--data-dir', dir, '--once'], {
    env: { TESSERA_LOG_LEVEL: 'error' },
  });
  assert.equal(code, 0, stderr);
  assert.match(
    stdout,
    /a → b: 200, b proved spiffe:\/\/example\.org\/node\/b and saw spiffe:\/\/example\.org\/node\/a/,
  );
  assert.match(
    stdout,
    /b → a: 200, a proved spiffe:\/\/example\.org\/node\/a and saw spiffe:\/\/example\.org\/node\/b/,
  );
  assert.match(stdout, /intruder → b .*refused.*b recorded uri_mismatch/);
  assert.match(
    stdout,
    /curl --cert \S+\/a\.crt --key \S+\/a\.key --cacert \S+\/ca\.crt https:\/\/127\.0\.0\.1:\d+\/whoami/,
  );
  // A second run reuses the dev CA rather than minting a new one.
  const again = await runCli(['demo', '--data-dir', dir, '--once'], { env: { TESSERA_LOG_LEVEL: 'error' } });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(CA reused\)/);
});
