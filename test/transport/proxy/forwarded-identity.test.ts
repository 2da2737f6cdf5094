// The forwarded-identity hook on its own (fastify inject, the socket address set per request): headers from
// an untrusted address are removed and counted, a trusted proxy's certificate becomes request.peer, the
// trust check (where CRLs plug in) refuses with its reason, and a trusted proxy without a certificate is
// refused only when the listener requires one.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { allow } from '../../../src/tls/authorize.ts';
import { parseCertificate, pemCertificatesToDer } from '../../../src/tls/x509.ts';
import { installForwardedIdentity } from '../../../src/transport/proxy/forwarded-identity.ts';
import { TrustedProxies } from '../../../src/transport/proxy/trusted-proxies.ts';
import type { Rejection } from '../../../src/transport/rejections.ts';
import { createTestCa, testUri } from '../../support/pki.ts';
import { silentLogger } from '../../support/tls-peers.ts';

let xfcc: string;
let cas: ReturnType<typeof parseCertificate>[];

before(async () => {
  const ca = await createTestCa('Hook CA');
  cas = [parseCertificate(pemCertificatesToDer(ca.certPem)[0] as Buffer)];
  xfcc = `Cert="${encodeURIComponent((await ca.issue('client')).certPem)}"`;
});

async function server(options: { requireCertificate?: boolean; revokedSerials?: Set<string> } = {}) {
  const rejections: Rejection[] = [];
  const app: FastifyInstance = Fastify();
  app.decorateRequest('peer', null);
  installForwardedIdentity(app, {
    proxies: new TrustedProxies({ proxies: ['10.0.0.1'], header: 'xfcc' }),
    cas: () => cas,
    authorize: () => allow,
    requireCertificate: options.requireCertificate ?? false,
    trustCheck: (identity) =>
      options.revokedSerials?.has(identity.serial)
        ? { reason: 'cert_revoked', detail: `serial ${identity.serial} is revoked` }
        : null,
    logger: silentLogger,
    onRejected: (rejection) => rejections.push(rejection),
  });
  app.get('/whoami', async (request) => ({
    uris: request.peer?.uris ?? null,
    ip: request.clientIp,
    via: request.viaTrustedProxy,
    left: request.headers['x-forwarded-client-cert'] ?? null,
  }));
  await app.ready();
  const get = (remoteAddress: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: '/whoami', remoteAddress, headers });
  return { app, rejections, get };
}

test('from an untrusted address: the header is removed and counted; the socket address is the client', async () => {
  const { get, rejections } = await server();
  const response = await get('10.0.0.2', { 'x-forwarded-client-cert': xfcc, 'x-forwarded-for': '192.0.2.1' });
  assert.deepEqual(response.json(), { uris: null, ip: '10.0.0.2', via: false, left: null });
  assert.deepEqual(
    rejections.map((r) => r.reason),
    ['forwarded_cert_untrusted_source'],
  );
});

test('from the trusted proxy: the verified certificate is the peer, the forwarded address the client', async () => {
  const { get, rejections } = await server();
  const response = await get('10.0.0.1', { 'x-forwarded-client-cert': xfcc, 'x-forwarded-for': '192.0.2.1' });
  assert.deepEqual(response.json(), { uris: [testUri('client')], ip: '192.0.2.1', via: true, left: null });
  assert.equal(rejections.length, 0);
});

test('the trust check (CRLs) refuses with its reason: 403 forwarded_cert_rejected, counted cert_revoked', async () => {
  const serial = parseCertificate(
    pemCertificatesToDer(decodeURIComponent(xfcc.slice(6, -1)))[0] as Buffer,
  ).serial;
  const { get, rejections } = await server({ revokedSerials: new Set([serial]) });
  const response = await get('10.0.0.1', { 'x-forwarded-client-cert': xfcc });
  assert.equal(response.statusCode, 403);
  assert.deepEqual(
    rejections.map((r) => r.reason),
    ['cert_revoked'],
  );
});

test('a trusted proxy without a forwarded certificate: no peer, or refused when the listener requires one', async () => {
  const lenient = await server();
  assert.deepEqual((await lenient.get('10.0.0.1')).json(), {
    uris: null,
    ip: '10.0.0.1',
    via: true,
    left: null,
  });
  const strict = await server({ requireCertificate: true });
  assert.equal((await strict.get('10.0.0.1')).statusCode, 403);
  assert.deepEqual(
    strict.rejections.map((r) => r.reason),
    ['no_client_certificate'],
  );
});
