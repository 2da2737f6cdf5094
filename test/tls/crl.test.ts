// CRLs in the identity core: loaded (PEM, DER, a directory) with the material and verified against the CA
// bundle; a CRL of a CA not in the bundle, one whose signature fails, or garbage is refused at start with
// its TLS_CRL_* code and, on reload, the old material stays (counted by reason). checkPeerTrust: a revoked
// serial → cert_revoked naming it; a CRL past nextUpdate → crl_stale (fail) or accepted with a call (warn).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TlsError } from '../../src/tls/errors.ts';
import { peerIdentityFromDer } from '../../src/tls/identity.ts';
import { checkPeerTrust, nextTrustDeadline } from '../../src/tls/revocation.ts';
import { pemCertificatesToDer } from '../../src/tls/x509.ts';
import { serialOf, writeCrl } from '../support/crl.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, DAY_MS, tempDir, writeMaterial } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { openStaticCredentials, testMetrics } from '../support/tls-peers.ts';

const identityOf = (pem: string) => peerIdentityFromDer(pemCertificatesToDer(pem)[0] as Buffer);

describe('loading CRLs with the material', () => {
  test('a PEM CRL, a DER CRL and a directory of CRLs load; revoked serials are read', async (t) => {
    const ca = await createTestCa('CRL CA');
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const bob = await ca.issue('bob');
    await writeCrl(join(dir, 'ca.crl.pem'), ca, [bob]);
    const pem = await openStaticCredentials({ ...paths, crlPath: join(dir, 'ca.crl.pem') });
    t.after(() => pem.close());
    assert.equal(pem.material.crls.length, 1);
    assert.equal(pem.material.crls[0]?.issuer, 'CN=CRL CA');
    assert.ok(pem.material.crls[0]?.revoked.has(serialOf(bob)));
    assert.equal(pem.material.crlStale, 'fail');

    await writeCrl(join(dir, 'ca.crl.der'), ca, [bob], { der: true });
    const der = await openStaticCredentials({ ...paths, crlPath: join(dir, 'ca.crl.der') });
    t.after(() => der.close());
    assert.ok(der.material.crls[0]?.revoked.has(serialOf(bob)));

    const crlDir = join(dir, 'crls');
    await mkdir(crlDir);
    const other = await createTestCa('Second CA');
    await writeFile(join(dir, 'ca.crt'), ca.certPem + other.certPem);
    await writeCrl(join(crlDir, 'a.pem'), ca, [bob]);
    await writeCrl(join(crlDir, 'b.pem'), other, []);
    const fromDir = await openStaticCredentials({ ...paths, crlPath: crlDir });
    t.after(() => fromDir.close());
    assert.deepEqual(fromDir.material.crls.map((crl) => crl.issuer).sort(), ['CN=CRL CA', 'CN=Second CA']);
  });

  const refusals: [string, string, (ctx: Awaited<ReturnType<typeof fixture>>) => Promise<void>][] = [
    [
      'a CRL of a CA that is not in the bundle',
      'TLS_CRL_ISSUER_UNKNOWN',
      async ({ crlPath }) => {
        await writeCrl(crlPath, await createTestCa('Stranger CA'), []);
      },
    ],
    [
      'a CRL naming our CA but signed by another key (same name)',
      'TLS_CRL_SIGNATURE',
      async ({ crlPath }) => {
        await writeCrl(crlPath, await createTestCa('CRL CA'), []);
      },
    ],
    [
      'a file that is not a CRL',
      'TLS_CRL_INVALID',
      async ({ crlPath }) => {
        await writeFile(crlPath, '-----BEGIN X509 CRL-----\nZ2FyYmFnZQ==\n-----END X509 CRL-----\n');
      },
    ],
  ];

  async function fixture(t: { after(fn: () => unknown): void }) {
    const ca = await createTestCa('CRL CA');
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const crlPath = join(dir, 'ca.crl');
    return { ca, dir, paths, crlPath };
  }

  for (const [title, code, write] of refusals) {
    test(`${title} is refused at start (${code})`, async (t) => {
      const ctx = await fixture(t);
      await write(ctx);
      await assert.rejects(
        openStaticCredentials({ ...ctx.paths, crlPath: ctx.crlPath }),
        (error: TlsError) => {
          assert.ok(error instanceof TlsError);
          assert.equal(error.code, code);
          assert.equal(error.file, ctx.crlPath);
          return true;
        },
      );
    });

    test(`${title} on reload: the old material stays, counted as failure ${code}`, async (t) => {
      const ctx = await fixture(t);
      const bob = await ctx.ca.issue('bob');
      await writeCrl(ctx.crlPath, ctx.ca, [bob]);
      const { registry, metrics } = testMetrics();
      const source = await openStaticCredentials({ ...ctx.paths, crlPath: ctx.crlPath }, { metrics });
      t.after(() => source.close());
      const before = source.material;
      await write(ctx);
      const event = await source.reload('manual');
      assert.equal(event.result, 'failure');
      assert.equal(event.reason, code);
      assert.equal(source.material, before, 'the last good material (and its CRL) stays');
      assert.ok(source.material.crls[0]?.revoked.has(serialOf(bob)));
      assert.equal(
        await counterValue(registry, 'tessera_tls_reload_total', { result: 'failure', reason: code }),
        1,
      );
    });
  }

  test('a new CRL is a new version of the material: reload swaps it in and emits change', async (t) => {
    const ctx = await fixture(t);
    await writeCrl(ctx.crlPath, ctx.ca, []);
    const source = await openStaticCredentials({ ...ctx.paths, crlPath: ctx.crlPath });
    t.after(() => source.close());
    assert.equal(source.material.crls[0]?.revoked.size, 0);
    const bob = await ctx.ca.issue('bob');
    await writeCrl(ctx.crlPath, ctx.ca, [bob]);
    const changed = new Promise((resolve) => source.once('change', resolve));
    assert.equal((await source.reload('manual')).result, 'success');
    await changed;
    assert.ok(source.material.crls[0]?.revoked.has(serialOf(bob)));
  });
});

describe('checkPeerTrust', () => {
  test('revoked → cert_revoked naming the serial; others of the CA and other CAs pass', async (t) => {
    const ca = await createTestCa('CRL CA');
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const [bob, alice] = [await ca.issue('bob'), await ca.issue('alice')];
    await writeCrl(join(dir, 'ca.crl'), ca, [bob]);
    const source = await openStaticCredentials({ ...paths, crlPath: join(dir, 'ca.crl') });
    t.after(() => source.close());
    const refusal = checkPeerTrust(identityOf(bob.certPem), source.material, new Date());
    assert.equal(refusal?.reason, 'cert_revoked');
    assert.equal(refusal?.serial, serialOf(bob));
    assert.match(
      refusal?.detail ?? '',
      new RegExp(`serial ${serialOf(bob)} is revoked by the CRL of CN=CRL CA`),
    );
    assert.equal(checkPeerTrust(identityOf(alice.certPem), source.material, new Date()), null);
    const stranger = await (await createTestCa('Other CA')).issue('bob');
    assert.equal(checkPeerTrust(identityOf(stranger.certPem), source.material, new Date()), null);
  });

  test('a CRL past nextUpdate: crl_stale under fail, accepted with a call under warn; deadlines', async (t) => {
    const ca = await createTestCa('CRL CA');
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const alice = identityOf((await ca.issue('alice')).certPem);
    const nextUpdate = new Date(Date.now() + DAY_MS);
    await writeCrl(join(dir, 'ca.crl'), ca, [], { nextUpdate });
    const fail = await openStaticCredentials({ ...paths, crlPath: join(dir, 'ca.crl') });
    const warn = await openStaticCredentials(
      { ...paths, crlPath: join(dir, 'ca.crl') },
      { crlStale: 'warn' },
    );
    t.after(() => {
      fail.close();
      warn.close();
    });
    const now = new Date();
    const later = new Date(Date.now() + 2 * DAY_MS);
    assert.equal(checkPeerTrust(alice, fail.material, now), null, 'fresh CRL');
    assert.equal(checkPeerTrust(alice, fail.material, later)?.reason, 'crl_stale');
    const accepted: string[] = [];
    assert.equal(
      checkPeerTrust(alice, warn.material, later, { onStaleAccepted: (crl) => accepted.push(crl.issuer) }),
      null,
    );
    assert.deepEqual(accepted, ['CN=CRL CA']);
    assert.equal(
      nextTrustDeadline(alice, fail.material).getTime(),
      Math.floor(nextUpdate.getTime() / 1000) * 1000,
    );
    assert.equal(nextTrustDeadline(alice, warn.material).getTime(), alice.notAfter.getTime());
  });
});

test('a CRL directory is watched: a CRL renamed into it is loaded without a manual reload', async (t) => {
  const ca = await createTestCa('CRL CA');
  const dir = await tempDir(t);
  const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
  const crlDir = join(dir, 'crls');
  await mkdir(crlDir);
  await writeCrl(join(crlDir, 'ca.crl'), ca, []);
  const source = await openStaticCredentials({ ...paths, crlPath: crlDir }, { watch: true, debounceMs: 20 });
  t.after(() => source.close());
  const bob = await ca.issue('bob');
  await writeCrl(join(crlDir, 'ca.crl'), ca, [bob]);
  // Polled (the watcher and its debounce timer do not hold the event loop open on their own).
  await until('the new CRL to be loaded', () => source.material.crls[0]?.revoked.has(serialOf(bob)));
});
