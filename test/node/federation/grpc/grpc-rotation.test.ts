// Certificate rotation on both sides while a gRPC replication stream is open, with real node processes:
// the stream is KEPT (same connection and TLS session; no stream ends, no resubscription) and facts written
// after the rotation arrive on it; a new connection to the sender presents the new certificate.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { federationClientConstructor } from '../../../../src/node/features/federation/grpc/proto.ts';
import { createMtlsChannelCredentials } from '../../../../src/transport/grpc/channel-credentials.ts';
import { factRows, GRPC_ENV, scrape } from '../../../support/grpc-federation.ts';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../../../support/node-process.ts';
import { createTestCa, tempDir, writeMaterial } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';
import { openStaticCredentials, silentLogger } from '../../../support/tls-peers.ts';

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

test("rotating both nodes' certificates mid-stream keeps the stream; later facts arrive on it", {
  timeout: 300_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  const [a, b] = await Promise.all([
    startNodeProcess({ name: 'a', ca, root, env: GRPC_ENV }),
    startNodeProcess({ name: 'b', ca, root, env: GRPC_ENV }),
  ]);
  t.after(async () => {
    await Promise.all([a.kill9(), b.kill9()]);
  });
  await addAndApprove(a, b);
  await addAndApprove(b, a);
  for (let i = 0; i < 3; i++)
    assert.equal((await a.api('POST', '/v1/facts', fact(`test:before/${i}`))).status, 201);
  await until('the first facts to reach B', async () => (await total(b)) === 3, { timeoutMs: 60_000 });
  assert.equal(await scrape(b, 'tessera_federation_grpc_streams', { role: 'receiver' }), 1);

  // Rotate both: new leaves (same identities) written in place, then SIGHUP.
  const fingerprints: Record<string, string> = {};
  for (const node of [a, b]) {
    const leaf = await ca.issue(node.name);
    fingerprints[node.name] = norm(new X509Certificate(leaf.certPem).fingerprint256);
    await writeMaterial(join(root, node.name, 'tls'), 'node', leaf, ca.certPem);
    node.proc.child.kill('SIGHUP');
  }
  for (const node of [a, b])
    await until(`${node.name} to load its new certificate`, () =>
      node.proc
        .events()
        .some(
          (e) =>
            e.event === 'tls_reload' &&
            e.result === 'success' &&
            norm(String(e.fingerprint256)) === fingerprints[node.name],
        ),
    );

  for (let i = 0; i < 3; i++)
    assert.equal((await a.api('POST', '/v1/facts', fact(`test:after/${i}`))).status, 201);
  await until('the later facts to reach B', async () => (await total(b)) === 6, { timeoutMs: 60_000 });
  // Kept: the same stream carried them (no stream ended at the sender, none broke at the receiver).
  assert.equal(await scrape(a, 'tessera_federation_grpc_stream_ends_total'), 0, 'no stream ended at A');
  assert.equal(await scrape(b, 'tessera_federation_grpc_streams', { role: 'receiver' }), 1);
  assert.ok(
    !b.proc.events().some((e) => e.event === 'federation_pull_failed'),
    'the stream never broke (a broken one is logged, then resubscribed)',
  );

  // A new connection to A's gRPC listener meets A's new certificate.
  const credentials = await openStaticCredentials(b.tls);
  t.after(() => credentials.close());
  let seen: string | undefined;
  const channel = createMtlsChannelCredentials({
    credentials,
    logger: silentLogger,
    authorize: (identity) => {
      seen = norm(identity.fingerprint256);
      return { allow: true };
    },
  });
  const Ctor = federationClientConstructor();
  const client = new Ctor(a.grpcEndpoint as string, channel) as unknown as {
    Manifest(r: object, m: Metadata, cb: (e: Error | null) => void): void;
    close(): void;
  };
  await new Promise<void>((resolve, reject) =>
    client.Manifest({}, new Metadata(), (e) => (e ? reject(e) : resolve())),
  );
  client.close();
  channel.close();
  assert.equal(seen, fingerprints.a, 'a new connection presents the new certificate');

  await Promise.all([a.stop(), b.stop()]);
  assert.deepEqual(factRows(b.dataDir), factRows(a.dataDir));
});

/** A SHA-256 fingerprint as lower-case hex, whichever way it was spelled. */
function norm(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').toLowerCase();
}
