// Rule 3: a peer's identity comes from the typed SANs of its DER certificate, never from Node's
// comma-joined `subjectaltname` string (CVE-2021-44532 class).
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { describePeer, peerIdentityFromDer, peerIdentityOf } from '../../src/tls/identity.ts';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH } from '../../src/tls/x509.ts';
import { createTestCa, testUri } from '../support/pki.ts';

async function identityOf(spec: Parameters<typeof buildCertificate>[0]) {
  const cert = await buildCertificate(spec);
  const x509 = new X509Certificate(cert.certPem);
  return { identity: peerIdentityFromDer(x509.raw), x509 };
}

describe('peerIdentityFromDer', () => {
  test('a CA-issued leaf: typed SANs, hashes, serial, validity, issuer, EKUs', async () => {
    const ca = await createTestCa('Identity CA');
    const leaf = await ca.issue('node-a', { dnsNames: ['localhost', 'node-a.test'], ips: ['127.0.0.1'] });
    const x509 = new X509Certificate(leaf.certPem);
    const identity = peerIdentityFromDer(x509.raw);
    assert.deepEqual(identity.uris, [testUri('node-a')]);
    assert.deepEqual(identity.dnsNames, ['localhost', 'node-a.test']);
    assert.deepEqual(identity.ips, ['127.0.0.1']);
    assert.equal(identity.spiffeId, testUri('node-a'));
    assert.equal(identity.fingerprint256, x509.fingerprint256.replaceAll(':', '').toLowerCase());
    const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(identity.spkiSha256, createHash('sha256').update(spki).digest('hex'));
    assert.equal(identity.serial, x509.serialNumber.toLowerCase());
    assert.equal(identity.notAfter.getTime(), new Date(x509.validTo).getTime());
    assert.equal(identity.notBefore.getTime(), new Date(x509.validFrom).getTime());
    assert.equal(identity.issuer, 'CN=Identity CA');
    assert.equal(identity.subject, 'CN=node-a');
    assert.equal(identity.isCa, false);
    assert.deepEqual(identity.extendedKeyUsages, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
    assert.equal(describePeer(identity), testUri('node-a'));
  });

  test('a URI SAN containing ", URI:" stays ONE SAN (the subjectaltname string would split it)', async () => {
    const hostile = 'spiffe://test.example/node/a, URI:spiffe://test.example/node/admin';
    const { identity, x509 } = await identityOf({ subjectCN: 'hostile', uris: [hostile] });
    assert.deepEqual(identity.uris, [hostile]);
    assert.ok(!identity.uris.includes('spiffe://test.example/node/admin'));
    // Node's display string escapes the comma; a naive split would still see two URIs in it.
    assert.ok(x509.subjectAltName?.includes('URI:spiffe://test.example/node/admin'));
    // One URI SAN that is not a valid single SPIFFE ID string is still one SAN: spiffeId is that whole value.
    assert.equal(identity.spiffeId, hostile);
  });

  test('a DNS SAN containing ", DNS:" stays one DNS name', async () => {
    const { identity } = await identityOf({ subjectCN: 'dns', dnsNames: ['a.example, DNS:evil.example'] });
    assert.deepEqual(identity.dnsNames, ['a.example, DNS:evil.example']);
  });

  test('IPv6 and IPv4 SANs are typed IP addresses in canonical text form', async () => {
    const { identity } = await identityOf({
      subjectCN: 'ips',
      ips: ['::1', '2001:db8::1', '10.0.0.1', 'fe80::1:2'],
    });
    assert.deepEqual(identity.ips, ['::1', '2001:db8::1', '10.0.0.1', 'fe80::1:2']);
    assert.deepEqual(identity.uris, []);
    assert.deepEqual(identity.dnsNames, []);
  });

  test('spiffeId is set only when there is exactly one URI SAN and it is spiffe://', async () => {
    const one = await identityOf({ subjectCN: 'one', uris: ['spiffe://a.org/w'] });
    assert.equal(one.identity.spiffeId, 'spiffe://a.org/w');

    const two = await identityOf({ subjectCN: 'two', uris: ['spiffe://a.org/w', 'spiffe://b.org/w'] });
    assert.equal(two.identity.spiffeId, undefined, 'two SPIFFE URIs: not an SVID');
    assert.deepEqual(two.identity.uris, ['spiffe://a.org/w', 'spiffe://b.org/w']);

    const mixed = await identityOf({ subjectCN: 'mixed', uris: ['spiffe://a.org/w', 'https://a.org/w'] });
    assert.equal(mixed.identity.spiffeId, undefined, 'a SPIFFE URI plus another URI: not an SVID');

    const https = await identityOf({ subjectCN: 'https', uris: ['https://a.org/w'] });
    assert.equal(https.identity.spiffeId, undefined, 'a single non-SPIFFE URI');

    const none = await identityOf({ subjectCN: 'none', dnsNames: ['a.org'] });
    assert.equal(none.identity.spiffeId, undefined);
    assert.deepEqual(none.identity.uris, []);
  });

  test('no SAN extension, no EKU extension, CA flag: empty lists, null EKUs, isCa', async () => {
    const { identity } = await identityOf({ subjectCN: 'Bare CA', isCa: true });
    assert.deepEqual([identity.uris, identity.dnsNames, identity.ips], [[], [], []]);
    assert.equal(identity.extendedKeyUsages, null);
    assert.equal(identity.isCa, true);
    assert.equal(describePeer(identity), `sha256:${identity.fingerprint256}`);
    assert.equal(describePeer(null), '(no certificate)');
  });
});

describe('peerIdentityFromDer: decoded once per distinct certificate', () => {
  test('the same DER gives the same frozen identity; another certificate its own', async () => {
    const ca = await createTestCa('Cache CA');
    const [a, b] = await Promise.all([ca.issue('node-a'), ca.issue('node-b')]);
    const derA = new X509Certificate(a.certPem).raw;
    const first = peerIdentityFromDer(derA);
    // A copy of the bytes (a new connection presenting the same certificate) hits the same entry.
    assert.equal(peerIdentityFromDer(Buffer.from(derA)), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.uris), 'shared, so nobody may change it');
    assert.throws(() => (first.uris as string[]).push('spiffe://evil/x'), TypeError);
    const other = peerIdentityFromDer(new X509Certificate(b.certPem).raw);
    assert.notEqual(other, first);
    assert.deepEqual(other.uris, [testUri('node-b')]);
  });

  test('an expired certificate is decoded again rather than served from the cache', async () => {
    const ca = await createTestCa('Cache CA');
    const leaf = await ca.issue('old', {
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const der = new X509Certificate(leaf.certPem).raw;
    const first = peerIdentityFromDer(der);
    const again = peerIdentityFromDer(der);
    assert.notEqual(again, first, 'past notAfter: not kept');
    assert.deepEqual(again, first);
  });
});

describe("peerIdentityOf: a connection's peer, from the certificate it presented", () => {
  test('connections presenting the same certificate share one identity; another certificate gets its own', async (t) => {
    const ca = await createTestCa('Socket CA');
    const [server, a, b] = await Promise.all([ca.issue('server'), ca.issue('peer-a'), ca.issue('peer-b')]);
    const seen: TLSSocket[] = [];
    const listener = createServer(
      {
        cert: server.certPem,
        key: server.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket) => {
        seen.push(socket);
        socket.end();
      },
    );
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    t.after(() => listener.close());
    const { port } = listener.address() as AddressInfo;
    const dial = async (leaf: { certPem: string; keyPem: string }) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        cert: leaf.certPem,
        key: leaf.keyPem,
        ca: ca.certPem,
        checkServerIdentity: () => undefined,
      });
      socket.on('data', () => {});
      await once(socket, 'end');
      socket.destroy();
      return seen.at(-1) as TLSSocket;
    };
    const first = peerIdentityOf(await dial(a));
    const second = peerIdentityOf(await dial(a));
    const other = peerIdentityOf(await dial(b));
    assert.ok(first && second && other);
    assert.equal(second, first, 'the same certificate on a new connection: the identity decoded once');
    assert.deepEqual(first.uris, [testUri('peer-a')]);
    assert.deepEqual(other.uris, [testUri('peer-b')]);
    assert.equal(
      first.fingerprint256,
      createHash('sha256').update(new X509Certificate(a.certPem).raw).digest('hex'),
    );
    // The same certificate read from its DER (another adapter) gives the same identity, decoded alike.
    assert.deepEqual(peerIdentityFromDer(new X509Certificate(a.certPem).raw), first);
  });
});
