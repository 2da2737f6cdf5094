// A flood of failed handshakes is counted in full but logged a few lines a second per reason, each line
// saying how many were suppressed before it: an outsider cannot fill the disk through the log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exactUri } from '../../src/tls/authorize.ts';
import { createLogSampler } from '../../src/tls/log-sampler.ts';
import type { Logger } from '../../src/tls/logger.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { rawTlsAttempt, startTestServer, type TestServer } from '../support/tls-peers.ts';

test('the sampler passes 5 lines a second per key and reports the suppressed count on the next line', () => {
  let now = 10_000;
  const sample = createLogSampler({ perSecond: 5, now: () => now });
  const first = Array.from({ length: 12 }, () => sample('server:no_client_certificate'));
  assert.deepEqual(
    first.map((s) => s.log),
    [true, true, true, true, true, false, false, false, false, false, false, false],
  );
  assert.equal(sample('client:denied').log, true, 'each key has its own budget');
  now += 1000;
  assert.deepEqual(sample('server:no_client_certificate'), { log: true, suppressed: 7 });
  assert.deepEqual(sample('server:no_client_certificate'), { log: true, suppressed: 0 });
});

const lines: Record<string, unknown>[] = [];
const capture: Logger = {
  info: () => undefined,
  debug: () => undefined,
  error: () => undefined,
  warn: (obj) => void lines.push(obj as Record<string, unknown>),
};
let server: TestServer;
let caPem: string;

before(async () => {
  const ca = await createTestCa();
  caPem = ca.certPem;
  const dir = await tempDir({ after });
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  server = await startTestServer(paths, exactUri(testUri('client')), { logger: capture });
});
after(() => server?.close());

test('60 handshakes without a client certificate: 60 counted, far fewer logged', async () => {
  const attempts = 60;
  const before = await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
    side: 'server',
    reason: 'no_client_certificate',
  });
  for (let batch = 0; batch < attempts / 20; batch++)
    await Promise.all(
      // Each attempt ends when the server refuses it; the generous hold only matters on a loaded machine,
      // where a client that gave up first would be a reset, not a counted refusal.
      Array.from({ length: 20 }, () => rawTlsAttempt(server.port, { ca: caPem, holdMs: 10_000 })),
    );
  await until(
    'every refusal counted',
    async () =>
      (await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
        side: 'server',
        reason: 'no_client_certificate',
      })) ===
      before + attempts,
  );
  const logged = lines.filter(
    (line) => line.event === 'tls_peer_rejected' && line.reason === 'no_client_certificate',
  );
  assert.ok(logged.length >= 1, 'refusals are still logged');
  assert.ok(logged.length < attempts / 2, `${logged.length} lines for ${attempts} refusals`);
});
