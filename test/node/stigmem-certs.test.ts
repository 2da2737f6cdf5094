// Two real `tessera serve` processes whose TLS material comes from the Stigmem seeds' openssl recipe (leaves
// without an EKU extension): they peer over mTLS in both directions and a fact crosses, so the certificates
// work on the federation listener (server side) and in the puller and manifest fetch (client side).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { stigmemRecipe } from '../support/openssl.ts';
import { until } from '../support/reload.ts';

const A = 'stigmem://your-org.example.com/nodes/a';
const B = 'stigmem://your-org.example.com/nodes/b';

describe('nodes with certificates from the Stigmem openssl recipe', () => {
  let root: string;
  let a: NodeProcess;
  let b: NodeProcess;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-certs-'));
    const pki = await stigmemRecipe(join(root, 'tls'), [
      { name: 'a', uri: A },
      { name: 'b', uri: B },
    ]);
    const start = (name: string, entityUri: string) =>
      startNodeProcess({
        name,
        root,
        entityUri,
        reuse: { apiKey: randomBytes(24).toString('base64url'), tls: pki.node(name) },
      });
    [a, b] = await Promise.all([start('a', A), start('b', B)]);
  });
  after(async () => {
    await Promise.all([a, b].map((n) => n?.stop()));
    await rm(root, { recursive: true, force: true });
  });

  test('peering both ways over mTLS and a fact replicated A → B', async () => {
    await addAndApprove(a, b);
    await addAndApprove(b, a);
    const asserted = await a.api<{ cid: string }>('POST', '/v1/facts', fact('acme:site/seed'));
    assert.equal(asserted.status, 201);
    const arrived = await until('the fact on B', async () => {
      const list = await b.api<{ facts: { cid: string }[] }>('GET', '/v1/facts?entity=acme:site/seed');
      return list.body.facts.find((f) => f.cid === asserted.body.cid);
    });
    assert.ok(arrived);
  });
});
