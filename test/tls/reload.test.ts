// Rule 5: a CredentialSource picks up new material from a write-temp-then-rename, a Kubernetes `..data`
// symlink swap, SIGHUP and polling; a torn or broken update keeps the last good material and is counted
// by reason; a CA bundle change admits and refuses clients accordingly; reloads are single-flight; and the
// next fresh handshake of a real mTLS server presents what was loaded.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { Registry } from 'prom-client';
import type { IssuedCertificate } from '../../src/pki/certificate.ts';
import { uriPrefix } from '../../src/tls/authorize.ts';
import type { CredentialSourceOptions, ReloadEvent } from '../../src/tls/credential-source.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, pemOf, type TestCa, tempDir, writeMaterial } from '../support/pki.ts';
import {
  fingerprintOf,
  freshRequest,
  nextReload,
  type ReloadingServer,
  replaceFile,
  servedOf,
  stageFile,
  startReloadingServer,
  swapKubernetesVolume,
  until,
  writeKubernetesVolume,
} from '../support/reload.ts';

type Pem = { certPem: string; keyPem: string; caPem: string };

const RELOADS = 'tessera_tls_reload_total';
const LAST_SUCCESS = 'tessera_tls_last_reload_success_timestamp_seconds';
const GARBAGE_CERT = '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZSwgbm90IERFUg==\n-----END CERTIFICATE-----\n';
const GARBAGE_KEY =
  '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWxvb2tpbmctZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n';

const reloads = (server: { registry: Registry }, result: string, reason: string) =>
  counterValue(server.registry, RELOADS, { result, reason });

interface Setup {
  ca: TestCa;
  dir: string;
  paths: MaterialPaths;
  original: IssuedCertificate;
  client: Pem;
  server: ReloadingServer;
  /** Every reload event of the server's credential source since start. */
  events: ReloadEvent[];
}

async function setup(
  t: TestContext,
  options: Omit<CredentialSourceOptions, keyof MaterialPaths>,
): Promise<Setup> {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const original = await ca.issue('server');
  const paths = await writeMaterial(dir, 'server', original, ca.certPem);
  // Created before anything watches the directory (replacePair writes its temp files there).
  await mkdir(join(dir, 'staging'));
  const client = pemOf(await ca.issue('client'), ca.certPem);
  const server = await startReloadingServer(paths, uriPrefix('spiffe://test.example/'), options);
  t.after(() => server.close());
  const events: ReloadEvent[] = [];
  server.credentials.on('reload', (event) => events.push(event));
  return { ca, dir, paths, original, client, server, events };
}

/** One request on a brand-new connection; returns the fingerprint presented in that handshake. */
async function servedFingerprint(server: ReloadingServer, client: Pem): Promise<string> {
  const handshake = await freshRequest(server.port, client);
  assert.ok(handshake.ok, `fresh handshake failed: ${handshake.error}`);
  assert.equal(handshake.status, 200);
  assert.equal(servedOf(handshake), handshake.fingerprint, 'the server presents the leaf it says it serves');
  return handshake.fingerprint as string;
}

/**
 * Write-temp-then-rename of both files, key first, both renames in the same tick: never a torn pair. The
 * temp files are written in a subdirectory, so a watcher of the material's directory sees only the renames.
 */
async function replacePair(paths: MaterialPaths, leaf: IssuedCertificate): Promise<void> {
  const staging = join(dirname(paths.certPath), 'staging');
  await mkdir(staging, { recursive: true });
  const key = await stageFile(paths.keyPath, leaf.keyPem, 0o600, staging);
  const cert = await stageFile(paths.certPath, leaf.chainPem, 0o644, staging);
  key.commit();
  cert.commit();
}

describe('reload triggers: the next fresh handshake presents the new certificate', () => {
  test('(a) write-temp-then-rename in the watched directory', async (t) => {
    const { ca, paths, original, client, server } = await setup(t, { watch: true });
    assert.equal(await servedFingerprint(server, client), fingerprintOf(original.certPem));

    const next = await ca.issue('server');
    const watchSuccesses = await reloads(server, 'success', 'watch');
    const reloaded = nextReload(server.credentials, (e) => e.result === 'success');
    await replacePair(paths, next);
    const event = await reloaded;
    assert.equal(event.trigger, 'watch');
    assert.equal(event.fingerprint256, fingerprintOf(next.certPem));
    assert.equal(await servedFingerprint(server, client), fingerprintOf(next.certPem));
    assert.equal(await reloads(server, 'success', 'watch'), watchSuccesses + 1);
  });

  test('(b) Kubernetes `..data` symlink swap, twice in a row', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const first = await ca.issue('server');
    await writeKubernetesVolume(dir, {
      'tls.crt': first.chainPem,
      'tls.key': first.keyPem,
      'ca.crt': ca.certPem,
    });
    const paths = {
      certPath: join(dir, 'tls.crt'),
      keyPath: join(dir, 'tls.key'),
      caPath: join(dir, 'ca.crt'),
    };
    const client = pemOf(await ca.issue('client'), ca.certPem);
    const server = await startReloadingServer(paths, uriPrefix('spiffe://test.example/'), { watch: true });
    t.after(() => server.close());
    assert.equal(await servedFingerprint(server, client), fingerprintOf(first.certPem));

    for (let round = 0; round < 2; round++) {
      const next = await ca.issue('server');
      const reloaded = nextReload(
        server.credentials,
        (e) => e.result === 'success' && e.fingerprint256 === fingerprintOf(next.certPem),
      );
      await swapKubernetesVolume(dir, {
        'tls.crt': next.chainPem,
        'tls.key': next.keyPem,
        'ca.crt': ca.certPem,
      });
      assert.equal((await reloaded).trigger, 'watch');
      assert.equal(
        await servedFingerprint(server, client),
        fingerprintOf(next.certPem),
        `round ${round + 1}`,
      );
    }
  });

  test('(c) SIGHUP (no watch, no poll): nothing changes until the signal, then it reloads', async (t) => {
    // The only SIGHUP listener in this file: every other source here is opened with sighup: false.
    assert.equal(process.listenerCount('SIGHUP'), 0, 'no other SIGHUP listener is installed');
    const { ca, paths, original, client, server } = await setup(t, {
      sighup: true,
      watch: false,
      pollIntervalMs: 0,
    });
    assert.equal(process.listenerCount('SIGHUP'), 1);

    const next = await ca.issue('server');
    await replacePair(paths, next);
    assert.equal(
      await servedFingerprint(server, client),
      fingerprintOf(original.certPem),
      'without a trigger the old certificate is still served',
    );
    const sighupSuccesses = await reloads(server, 'success', 'sighup');
    const reloaded = nextReload(server.credentials, (e) => e.result === 'success');
    process.kill(process.pid, 'SIGHUP');
    const event = await reloaded;
    assert.equal(event.trigger, 'sighup');
    assert.equal(await servedFingerprint(server, client), fingerprintOf(next.certPem));
    assert.equal(await reloads(server, 'success', 'sighup'), sighupSuccesses + 1);

    await server.close();
    assert.equal(process.listenerCount('SIGHUP'), 0, 'close() removes the SIGHUP listener');
  });

  test('poll only (watch off, 100 ms poll) picks up a change', async (t) => {
    const { ca, paths, client, server } = await setup(t, { watch: false, pollIntervalMs: 100 });
    const next = await ca.issue('server');
    const reloaded = nextReload(server.credentials, (e) => e.result === 'success');
    await replacePair(paths, next);
    const event = await reloaded;
    assert.equal(event.trigger, 'poll');
    assert.equal(await servedFingerprint(server, client), fingerprintOf(next.certPem));
  });
});

describe('bad updates keep the last good material', () => {
  test('torn pair (cert written before key): handshakes keep working, TLS_KEY_MISMATCH counted, then the new pair', async (t) => {
    const { ca, paths, original, client, server, events } = await setup(t, { watch: true });
    const mismatchesBefore = await reloads(server, 'failure', 'TLS_KEY_MISMATCH');
    const next = await ca.issue('server');

    const failed = nextReload(server.credentials, (e) => e.result === 'failure');
    await replaceFile(paths.certPath, next.chainPem);
    const failure = await failed;
    assert.equal(failure.reason, 'TLS_KEY_MISMATCH');
    assert.equal(failure.trigger, 'watch');
    assert.equal(
      failure.fingerprint256,
      fingerprintOf(original.certPem),
      'the event reports what is still served',
    );
    assert.match(failure.message ?? '', new RegExp(`private key ${paths.keyPath} does not match`));

    // The gap: every fresh handshake still succeeds with the old pair.
    const during = await Promise.all(Array.from({ length: 5 }, () => servedFingerprint(server, client)));
    assert.deepEqual(new Set(during), new Set([fingerprintOf(original.certPem)]));
    const mismatchEvents = events.filter((e) => e.result === 'failure' && e.reason === 'TLS_KEY_MISMATCH');
    assert.ok(mismatchEvents.length >= 1);
    assert.equal(
      await reloads(server, 'failure', 'TLS_KEY_MISMATCH'),
      mismatchesBefore + mismatchEvents.length,
    );

    const succeeded = nextReload(server.credentials, (e) => e.result === 'success');
    await replaceFile(paths.keyPath, next.keyPem, 0o600);
    assert.equal((await succeeded).fingerprint256, fingerprintOf(next.certPem));
    assert.equal(await servedFingerprint(server, client), fingerprintOf(next.certPem));
  });

  test('garbage certificate PEM → failure TLS_PEM_INVALID counted, old certificate still served', async (t) => {
    const { paths, original, client, server, events } = await setup(t, { watch: true });
    const before = await reloads(server, 'failure', 'TLS_PEM_INVALID');
    const failed = nextReload(server.credentials, (e) => e.result === 'failure');
    await replaceFile(paths.certPath, GARBAGE_CERT);
    const failure = await failed;
    assert.equal(failure.reason, 'TLS_PEM_INVALID');
    assert.match(
      failure.message ?? '',
      new RegExp(`certificate #1 in certificate ${paths.certPath} cannot be parsed`),
    );
    const counted = events.filter((e) => e.result === 'failure' && e.reason === 'TLS_PEM_INVALID').length;
    assert.equal(await reloads(server, 'failure', 'TLS_PEM_INVALID'), before + counted);
    assert.equal(server.credentials.material.leaf.fingerprint256, fingerprintOf(original.certPem));
    assert.equal(await servedFingerprint(server, client), fingerprintOf(original.certPem));
  });

  test('garbage key PEM → failure TLS_KEY_INVALID counted, no key bytes in the message', async (t) => {
    const { paths, original, client, server, events } = await setup(t, { watch: true });
    const before = await reloads(server, 'failure', 'TLS_KEY_INVALID');
    const failed = nextReload(server.credentials, (e) => e.result === 'failure');
    await replaceFile(paths.keyPath, GARBAGE_KEY, 0o600);
    const failure = await failed;
    assert.equal(failure.reason, 'TLS_KEY_INVALID');
    assert.match(failure.message ?? '', new RegExp(`private key ${paths.keyPath} is not an unencrypted PEM`));
    assert.ok(!failure.message?.includes('c2VjcmV0'), 'the key file content is not echoed');
    const counted = events.filter((e) => e.result === 'failure' && e.reason === 'TLS_KEY_INVALID').length;
    assert.equal(await reloads(server, 'failure', 'TLS_KEY_INVALID'), before + counted);
    assert.equal(await servedFingerprint(server, client), fingerprintOf(original.certPem));
  });
});

describe('CA bundle reload', () => {
  test('a client of a newly added CA is admitted; a client of a removed CA is refused (cert_untrusted)', async (t) => {
    const serverCa = await createTestCa('Server CA');
    const oldCa = await createTestCa('Old Client CA');
    const newCa = await createTestCa('New Client CA');
    const dir = await tempDir(t);
    const paths = await writeMaterial(
      dir,
      'server',
      await serverCa.issue('server'),
      serverCa.certPem + oldCa.certPem,
    );
    const server = await startReloadingServer(paths, uriPrefix('spiffe://test.example/'), { watch: true });
    t.after(() => server.close());
    // Clients verify the server against the server's CA; the server verifies them against its bundle.
    const fromOld = pemOf(await oldCa.issue('client-old'), serverCa.certPem);
    const fromNew = pemOf(await newCa.issue('client-new'), serverCa.certPem);

    const refused = async (client: Pem) => {
      const seen = server.rejections.length;
      const handshake = await freshRequest(server.port, client);
      assert.equal(handshake.ok, false, 'the refused client gets no HTTP response');
      const rejection = await until('the server to record the refusal', () => server.rejections[seen]);
      assert.equal(rejection.reason, 'cert_untrusted');
      assert.equal(rejection.side, 'server');
    };

    await servedFingerprint(server, fromOld);
    await refused(fromNew);

    const reloaded = nextReload(server.credentials, (e) => e.result === 'success');
    await replaceFile(paths.caPath, serverCa.certPem + newCa.certPem);
    await reloaded;
    assert.deepEqual(
      server.credentials.material.cas.map((c) => c.subject),
      ['CN=Server CA', 'CN=New Client CA'],
    );

    await servedFingerprint(server, fromNew);
    await refused(fromOld);
  });
});

describe('single flight', () => {
  test('20 concurrent reload() calls join one run: one validation pass, one success, one re-run', async (t) => {
    const { ca, paths, client, server, events } = await setup(t, { watch: false, pollIntervalMs: 0 });
    const next = await ca.issue('server');
    await replacePair(paths, next);
    const successes = await reloads(server, 'success', 'manual');
    const calls = Array.from({ length: 20 }, () => server.credentials.reload());
    assert.ok(
      calls.every((call) => call === calls[0]),
      'every call while one runs returns the running reload',
    );
    await Promise.all(calls);
    assert.deepEqual(
      events.map((e) => e.result),
      ['success', 'unchanged'],
      'the first attempt loads, the one coalesced re-run finds nothing new',
    );
    assert.equal(await reloads(server, 'success', 'manual'), successes + 1);
    assert.equal(await servedFingerprint(server, client), fingerprintOf(next.certPem));
  });

  test('a change landing during a reload is picked up by the re-run, never in parallel; the newest wins', async (t) => {
    const { ca, paths, client, server, events } = await setup(t, { watch: false, pollIntervalMs: 0 });
    const v2 = await ca.issue('server');
    const v3 = await ca.issue('server');
    await replacePair(paths, v2);
    const stagedKey = await stageFile(paths.keyPath, v3.keyPem, 0o600);
    const stagedCert = await stageFile(paths.certPath, v3.chainPem);
    const joined: boolean[] = [];
    let running: Promise<ReloadEvent> | undefined;
    // 'change' fires inside the running attempt: write v3 right then and ask for more reloads, which join it.
    server.credentials.once('change', () => {
      stagedKey.commit();
      stagedCert.commit();
      for (let i = 0; i < 5; i++) joined.push(server.credentials.reload() === running);
    });
    running = server.credentials.reload();
    await running;
    assert.deepEqual(joined, [true, true, true, true, true], 'calls during a run return the running reload');
    assert.deepEqual(
      events.map((e) => [e.result, e.fingerprint256]),
      [
        ['success', fingerprintOf(v2.certPem)],
        ['success', fingerprintOf(v3.certPem)],
      ],
    );
    assert.equal(server.credentials.material.leaf.fingerprint256, fingerprintOf(v3.certPem));
    assert.equal(await servedFingerprint(server, client), fingerprintOf(v3.certPem));
  });
});

describe('metrics', () => {
  test('last-success timestamp moves on success (injected clock), not on failure', async (t) => {
    let now = new Date();
    const { ca, paths, server } = await setup(t, { watch: false, pollIntervalMs: 0, clock: () => now });
    assert.equal(await counterValue(server.registry, LAST_SUCCESS, {}), now.getTime() / 1000, 'set at start');

    now = new Date(now.getTime() + 60_000);
    await replacePair(paths, await ca.issue('server'));
    assert.equal((await server.credentials.reload()).result, 'success');
    const successAt = now.getTime() / 1000;
    assert.equal(await counterValue(server.registry, LAST_SUCCESS, {}), successAt);

    now = new Date(now.getTime() + 60_000);
    await replaceFile(paths.certPath, GARBAGE_CERT);
    assert.equal((await server.credentials.reload()).result, 'failure');
    assert.equal(
      await counterValue(server.registry, LAST_SUCCESS, {}),
      successAt,
      'a failure leaves it where it was',
    );
  });
});
