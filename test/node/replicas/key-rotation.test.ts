// A key rotation done for one node is followed by all its replicas when they take their keys from one
// shared data dir (a shared volume): `tessera identity rotate-key` run on that dir, with no restart, and
// both replicas serve a manifest with the new key id (node key and issuer key), the old key announced by
// the signed rotation event. (Keys given as env seeds are fixed: they rotate by replacing the secret.)
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { STIGMEM_MANIFEST_PATH } from '../../../src/node/features/identity/well-known.ts';
import { testDatabase } from '../../store/postgres-fixtures.ts';
import { runCli } from '../../support/child.ts';
import { until } from '../../support/reload.ts';
import type { TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
let root: string;
let replicas: Replicas;
let sharedDir: string;

interface Manifest {
  key_id: string;
  issuer_key_id: string;
  rotation_events?: { kind: string; old_key_id: string; new_key_id: string }[];
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tessera-replica-keys-'));
  replicas = await startReplicas(await database(), { root, keys: 'shared-dir' });
  sharedDir = replicas.a.identity.env.TESSERA_DATA_DIR!;
});
after(async () => {
  await replicas?.close();
  await rm(root, { recursive: true, force: true });
});

async function manifestOf(replica: TlsNode): Promise<Manifest> {
  const response = await replica.api<Manifest>('GET', STIGMEM_MANIFEST_PATH);
  assert.equal(response.status, 200);
  return response.body;
}

async function rotate(kind: 'node' | 'issuer'): Promise<{ old_key_id: string; new_key_id: string }> {
  // The CLI reads the same settings as the replicas' `serve` (entity URI, certificate, data dir).
  const { a } = replicas;
  const env = {
    ...a.identity.env,
    TESSERA_ENTITY_URI: a.entityUri,
    TESSERA_TLS_CERT_PATH: a.tls.certPath,
    TESSERA_TLS_KEY_PATH: a.tls.keyPath,
    TESSERA_TLS_CA_BUNDLE: a.tls.caPath,
  };
  const run = await runCli(['identity', 'rotate-key', '--kind', kind, '--json', '--data-dir', sharedDir], {
    env,
  });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test('a node key rotated in the shared data dir is served by both replicas, without a restart', async () => {
  const { a, b } = replicas;
  const before = [await manifestOf(a), await manifestOf(b)];
  assert.equal(before[0]!.key_id, before[1]!.key_id, 'one node key');
  const rotated = await rotate('node');
  assert.equal(rotated.old_key_id, before[0]!.key_id);
  for (const replica of [a, b])
    await until(
      `replica ${replica.name} serves the new node key`,
      async () => (await manifestOf(replica)).key_id === rotated.new_key_id,
      { timeoutMs: 10_000 },
    );
  for (const replica of [a, b]) {
    const events = (await manifestOf(replica)).rotation_events ?? [];
    assert.ok(
      events.some((e) => e.kind === 'node' && e.old_key_id === rotated.old_key_id),
      `replica ${replica.name} announces the rotation`,
    );
  }
});

test('an issuer key rotated in the shared data dir is served by both replicas', async () => {
  const { a, b } = replicas;
  const before = await manifestOf(a);
  assert.equal((await manifestOf(b)).issuer_key_id, before.issuer_key_id, 'one issuer key');
  const rotated = await rotate('issuer');
  assert.equal(rotated.old_key_id, before.issuer_key_id);
  for (const replica of [a, b])
    await until(
      `replica ${replica.name} serves the new issuer key`,
      async () => (await manifestOf(replica)).issuer_key_id === rotated.new_key_id,
      { timeoutMs: 10_000 },
    );
  // A capability issued by one replica with the new issuer key verifies on the other.
  const issued = await a.api<{ token: string }>('POST', '/v1/capabilities', {
    subject: 'spiffe://test.example/client/c',
    verb: 'read',
    object: 'test:doc/1',
    ttl_seconds: 600,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const verified = await b.api<{ valid: boolean }>('POST', '/v1/capabilities/verify', {
    token: issued.body.token,
  });
  assert.equal(verified.body.valid, true, JSON.stringify(verified.body));
});
