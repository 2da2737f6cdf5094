// The manifest fetch (its own one-shot HTTPS connection, outside the pooled agent) applies our CRLs too: a
// peer whose certificate our CRL revokes is refused before the request is written
// (tls_certificate_rejected naming cert_revoked); the same peer is fetched once the CRL no longer lists it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { getManifest } from '../../../src/node/features/federation/https/manifest-get.ts';
import { ManifestError } from '../../../src/node/features/identity/manifest.ts';
import { serverTlsOptions } from '../../../src/tls/policy.ts';
import { writeCrl } from '../../support/crl.ts';
import { createTestCa, pemOf, tempDir, writeMaterial } from '../../support/pki.ts';
import { openStaticCredentials } from '../../support/tls-peers.ts';

test('getManifest refuses a peer our CRL revokes (cert_revoked), and fetches it from a CRL without it', async (t) => {
  const ca = await createTestCa('Manifest CA');
  const dir = await tempDir(t);
  const peerCert = await ca.issue('peer');
  let requests = 0;
  const server = createServer(serverTlsOptions(pemOf(peerCert, ca.certPem)), (_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const crlPath = join(dir, 'ca.crl');
  await writeCrl(crlPath, ca, [peerCert]);
  const credentials = await openStaticCredentials({
    ...(await writeMaterial(dir, 'me', await ca.issue('me'), ca.certPem)),
    crlPath,
  });
  t.after(() => credentials.close());

  await assert.rejects(getManifest(url, { credentials, insecure: false, timeoutMs: 10_000 }), (error) => {
    assert.ok(error instanceof ManifestError, String(error));
    assert.match(error.message, /cert_revoked: peer certificate serial [0-9a-f]+ is revoked/);
    return true;
  });
  assert.equal(requests, 0, 'no request reached the revoked peer');

  await writeCrl(crlPath, ca, []);
  assert.equal((await credentials.reload('manual')).result, 'success');
  await getManifest(url, { credentials, insecure: false, timeoutMs: 10_000 }).catch(() => undefined);
  assert.equal(requests, 1, 'with the CRL no longer listing it, the request is sent');
});
