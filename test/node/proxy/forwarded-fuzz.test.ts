// Malformed forwarded-certificate headers from a trusted proxy, thrown at a real node (both formats, both
// listeners): random header-safe text, truncations and mutations of a good header, bad base64 and bad
// percent-encoding. Every one gets a clear 4xx with the {error, detail} shape (never a 5xx, never a crash),
// and the node still serves a good forwarded certificate afterwards.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Feature } from '../../../src/node/app/feature.ts';
import { pemCertificatesToDer } from '../../../src/tls/x509.ts';
import { createTestCa, testUri } from '../../support/pki.ts';
import { startTlsNode, type TlsNode } from '../../support/tls-node.ts';

const whoami: Feature = {
  name: 'test-whoami',
  api: async (app) => {
    app.get('/test/whoami', { config: { access: 'open' } }, async (request) => ({
      uris: request.peer?.uris ?? null,
    }));
  },
};

const SAFE = 'Cert=URIHashChainBy;,"\\%:=+/ABCxyz019-_ .%2F%0A%ZZ:';
function randomText(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SAFE[Math.floor(Math.random() * SAFE.length)];
  return s;
}

for (const header of ['xfcc', 'client-cert'] as const) {
  describe(`malformed ${header} headers from a trusted proxy`, () => {
    let root: string;
    let node: TlsNode;
    let app: FastifyInstance;
    let good: string;
    const name = header === 'xfcc' ? 'x-forwarded-client-cert' : 'client-cert';

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-fuzz-'));
      const ca = await createTestCa('Fuzz CA');
      const client = await ca.issue('client');
      good =
        header === 'xfcc'
          ? `Cert="${encodeURIComponent(client.certPem)}";URI=${testUri('client')}`
          : `:${(pemCertificatesToDer(client.certPem)[0] as Buffer).toString('base64')}:`;
      node = await startTlsNode({
        name: `fuzz-${header}`,
        ca,
        root,
        features: [whoami],
        env: { TESSERA_TRUSTED_PROXIES: '127.0.0.1', TESSERA_FORWARDED_CERT_HEADER: header },
      });
      app = node.node.api;
    });
    after(async () => {
      await node?.close();
      await rm(root, { recursive: true, force: true });
    });

    const send = (value: string) =>
      app.inject({
        method: 'GET',
        url: '/test/whoami',
        remoteAddress: '127.0.0.1',
        headers: { [name]: value },
      });

    test('every malformed value is a 4xx {error, detail}; a good one still works after', async () => {
      const inputs: string[] = [];
      for (let i = 0; i < 150; i++) inputs.push(randomText(1 + (i % 200)));
      for (let cut = 1; cut < good.length; cut += 37) inputs.push(good.slice(0, cut));
      for (let i = 0; i < 150; i++) {
        const chars = [...good];
        chars[Math.floor(Math.random() * chars.length)] = SAFE[
          Math.floor(Math.random() * SAFE.length)
        ] as string;
        inputs.push(chars.join(''));
      }
      inputs.push(
        header === 'xfcc' ? 'Cert="%E0%A4%A"' : ':%%%%:',
        header === 'xfcc' ? 'Cert=":not-base64:"' : ':QQ=x:',
      );
      const statuses = new Map<number, number>();
      for (const value of inputs) {
        if (value === good) continue;
        const response = await send(value);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode === 200) continue; // a mutation that kept the header valid (e.g. a URI letter)
        assert.ok(
          response.statusCode >= 400 && response.statusCode < 500,
          `${response.statusCode} for ${JSON.stringify(value.slice(0, 120))}: ${response.body}`,
        );
        const body = response.json<{ error: string; detail: string }>();
        assert.match(body.error, /^forwarded_cert_(invalid|rejected)$/);
        assert.equal(typeof body.detail, 'string');
      }
      assert.ok((statuses.get(400) ?? 0) > 100, `mostly 400s: ${JSON.stringify([...statuses])}`);
      const ok = await send(good);
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.json<{ uris: string[] }>().uris, [testUri('client')]);
    });
  });
}
