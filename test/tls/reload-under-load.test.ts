// Rule 5 under load, against a real child process (`tessera tls serve`): while long-lived connections
// stream data both ways and new short requests keep arriving, the certificate is rotated five times.
// Not one stream or request may fail, every stream gets back exactly the bytes it sent, established
// connections keep the session they started with, and fresh connections see each new certificate.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../support/child.ts';
import { startEchoStream } from '../support/echo-stream.ts';
import { createTestCa, pemOf, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import {
  fingerprintOf,
  freshRequest,
  type Handshake,
  servedOf,
  stageFile,
  until,
} from '../support/reload.ts';

const STREAMS = 12;
const ROTATIONS = 5;
const FRESH_WORKERS = 2;

test('5 rotations under 12 streaming connections and a stream of fresh requests: zero errors, no byte lost', {
  timeout: 60_000,
}, async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const first = await ca.issue('server');
  const paths = await writeMaterial(dir, 'server', first, ca.certPem);
  const client = pemOf(await ca.issue('client'), ca.certPem);
  // Replacements are written here first, so the watched directory sees nothing but the two renames.
  const staging = join(dir, 'staging');
  await mkdir(staging);
  // Watch only (no poll): each rotation is one rename pair, picked up by the directory watcher.
  const proc = startCli([
    'tls',
    'serve',
    '--cert',
    paths.certPath,
    '--key',
    paths.keyPath,
    '--ca',
    paths.caPath,
    '--allow-uri',
    testUri('client'),
    '--poll-ms',
    '0',
  ]);
  t.after(() => proc.stop());
  const port = (await proc.waitForEvent((e) => e.event === 'listening', 30_000)).port as number;
  assert.ok(port > 0);

  const streams = Array.from({ length: STREAMS }, () =>
    startEchoStream(port, client, { chunkBytes: 4096, intervalMs: 20 }),
  );
  const initial = await Promise.all(streams.map((s) => s.fingerprint));
  assert.deepEqual(new Set(initial), new Set([fingerprintOf(first.certPem)]));
  await until('every stream to get echoed bytes back', () => streams.every((s) => s.received() > 0));

  let stop = false;
  const fresh: Handshake[] = [];
  const workers = Array.from({ length: FRESH_WORKERS }, async () => {
    while (!stop) fresh.push(await freshRequest(port, client));
  });

  const before = streams.map((s) => s.received());
  const served = [fingerprintOf(first.certPem)];
  for (let round = 1; round <= ROTATIONS; round++) {
    const next = await ca.issue('server');
    const fingerprint = fingerprintOf(next.certPem);
    // Write-temp-then-rename, key first then cert, in the same tick: the watcher never sees a torn pair.
    const key = await stageFile(paths.keyPath, next.keyPem, 0o600, staging);
    const cert = await stageFile(paths.certPath, next.chainPem, 0o644, staging);
    key.commit();
    cert.commit();
    await proc.waitForEvent(
      (e) => e.event === 'tls_reload' && e.result === 'success' && e.fingerprint256 === fingerprint,
      20_000,
    );
    served.push(fingerprint);
    const after = await freshRequest(port, client);
    assert.ok(after.ok, `round ${round}: fresh request failed: ${after.error}`);
    assert.equal(after.status, 200);
    assert.equal(after.fingerprint, fingerprint, `round ${round}: a fresh handshake presents the new leaf`);
    assert.equal(servedOf(after), fingerprint);
  }
  stop = true;
  await Promise.all(workers);

  streams.forEach((s, i) => {
    assert.ok(s.received() > (before[i] ?? 0), `stream ${i} kept echoing during the rotations`);
  });
  const results = await Promise.all(streams.map((s) => s.finish()));
  results.forEach((r, i) => {
    assert.equal(r.error, undefined, `stream ${i}: no error`);
    assert.equal(r.status, 200, `stream ${i}: status`);
    assert.ok(r.sentBytes > 0);
    assert.equal(r.receivedBytes, r.sentBytes, `stream ${i}: bytes received = bytes sent`);
    assert.equal(r.receivedSha256, r.sentSha256, `stream ${i}: SHA-256 of received = SHA-256 of sent`);
  });

  const failed = fresh.filter((h) => !h.ok || h.status !== 200);
  assert.deepEqual(failed, [], 'every fresh request succeeded');
  assert.ok(fresh.length >= ROTATIONS, `fresh requests ran throughout (${fresh.length})`);
  for (const h of fresh)
    assert.ok(served.includes(h.fingerprint as string), 'a known certificate was presented');

  const events = proc.events();
  assert.deepEqual(
    events.filter((e) => e.event === 'tls_peer_rejected'),
    [],
    'the server refused no one',
  );
  assert.deepEqual(
    events.filter((e) => e.event === 'tls_reload' && e.result === 'failure'),
    [],
    'no reload failed',
  );
  const total = results.reduce((sum, r) => sum + r.sentBytes, 0);
  t.diagnostic(
    `${fresh.length} fresh requests; ${(total / 1e6).toFixed(1)} MB echoed over ${STREAMS} streams`,
  );
});
