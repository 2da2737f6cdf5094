// The validity floor (minRemainingLifetimeMs, TESSERA_TLS_MIN_REMAINING_LIFETIME): material whose leaf has
// less life left than the floor never replaces working material, and a node refuses to start on it.
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { CredentialSource } from '../../src/tls/credential-source.ts';
import { TlsError } from '../../src/tls/errors.ts';
import { createTlsMetrics } from '../../src/tls/metrics.ts';
import { runCli } from '../support/child.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../support/pki.ts';

const HOUR_MS = 3_600_000;
// Fixed for the file (the CA is made with the real clock, so NOW is just after its notBefore).
const NOW = new Date(Date.now() + 60_000);
const clock = () => NOW;
const notBefore = new Date(NOW.getTime() - DAY_MS);
const quiet = { watch: false, pollIntervalMs: 0, sighup: false, selfHandshake: false, clock } as const;

test('material with less left than the floor does not open: TLS_LIFETIME_TOO_SHORT names what is left', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const leaf = await ca.issue('a', { notBefore, notAfter: new Date(NOW.getTime() + 30 * 60_000) });
  const paths = await writeMaterial(dir, 'a', leaf, ca.certPem);
  await assert.rejects(
    CredentialSource.open({ ...paths, ...quiet, minRemainingLifetimeMs: HOUR_MS }),
    (error: unknown) =>
      error instanceof TlsError &&
      error.code === 'TLS_LIFETIME_TOO_SHORT' &&
      /has (29|30) min left .* less than the minimum remaining lifetime of 60 min/.test(error.message),
  );
  // Without a floor the same material opens: the floor, not expiry, refused it.
  const source = await CredentialSource.open({ ...paths, ...quiet });
  source.close();
});

test('a renewal with too little life left is not swapped in: the old material stays and the refusal is counted', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const good = await ca.issue('a', { notBefore, notAfter: new Date(NOW.getTime() + 20 * DAY_MS) });
  const paths = await writeMaterial(dir, 'a', good, ca.certPem);
  const registry = new Registry();
  const source = await CredentialSource.open({
    ...paths,
    ...quiet,
    minRemainingLifetimeMs: HOUR_MS,
    metrics: createTlsMetrics(registry),
  });
  t.after(() => source.close());
  const before = source.material.leaf.fingerprint256;

  const short = await ca.issue('a', { notBefore, notAfter: new Date(NOW.getTime() + 10 * 60_000) });
  await writeFile(join(dir, 'a.crt.tmp'), short.chainPem);
  await writeFile(join(dir, 'a.key.tmp'), short.keyPem, { mode: 0o600 });
  await rename(join(dir, 'a.key.tmp'), paths.keyPath);
  await rename(join(dir, 'a.crt.tmp'), paths.certPath);
  const refused = await source.reload('manual');
  assert.equal(refused.result, 'failure');
  assert.equal(refused.reason, 'TLS_LIFETIME_TOO_SHORT');
  assert.equal(source.material.leaf.fingerprint256, before, 'the working certificate stays');
  assert.equal(
    await counterValue(registry, 'tessera_tls_reload_total', {
      result: 'failure',
      reason: 'TLS_LIFETIME_TOO_SHORT',
    }),
    1,
  );

  // A proper renewal afterwards is taken.
  const renewed = await ca.issue('a', { notBefore, notAfter: new Date(NOW.getTime() + 30 * DAY_MS) });
  await writeMaterial(dir, 'a', renewed, ca.certPem);
  const taken = await source.reload('manual');
  assert.equal(taken.result, 'success');
  assert.notEqual(source.material.leaf.fingerprint256, before);
});

test('tessera serve refuses to start on a certificate under TESSERA_TLS_MIN_REMAINING_LIFETIME', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const leaf = await ca.issue('a', { notAfter: new Date(Date.now() + 2 * HOUR_MS) });
  const paths = await writeMaterial(dir, 'a', leaf, ca.certPem);
  const result = await runCli(['serve'], {
    env: {
      TESSERA_DATA_DIR: join(dir, 'data'),
      TESSERA_ENTITY_URI: testUri('a'),
      TESSERA_API_PORT: '0',
      TESSERA_FEDERATION_PORT: '0',
      TESSERA_TLS_CERT_PATH: paths.certPath,
      TESSERA_TLS_KEY_PATH: paths.keyPath,
      TESSERA_TLS_CA_BUNDLE: paths.caPath,
      TESSERA_TLS_MIN_REMAINING_LIFETIME: '3h',
    },
  });
  assert.notEqual(result.code, 0);
  assert.match(
    result.stderr + result.stdout,
    /TLS_LIFETIME_TOO_SHORT: .*1 h left|TLS_LIFETIME_TOO_SHORT: .*(119|11\d) min left/,
  );
});
