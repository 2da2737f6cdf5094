// The forwarded-certificate parsers: Envoy's XFCC and RFC 9440 Client-Cert / Client-Cert-Chain read what
// real proxies write, and refuse every malformed header with a typed reason (never a crash, never a guess),
// including random bytes, truncations, huge values, bad base64 and bad percent-encoding.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { pemCertificatesToDer } from '../../../src/tls/x509.ts';
import { parseCidrs } from '../../../src/transport/proxy/cidr.ts';
import { parseClientCert, parseClientCertChain } from '../../../src/transport/proxy/client-cert.ts';
import { forwardedClientIp } from '../../../src/transport/proxy/client-ip.ts';
import { ForwardedCertError } from '../../../src/transport/proxy/errors.ts';
import { clientCertFromXfcc, parseXfcc } from '../../../src/transport/proxy/xfcc.ts';
import { createTestCa, testUri } from '../../support/pki.ts';

let leafPem: string;
let leafDer: Buffer;
let caPem: string;
let caDer: Buffer;

before(async () => {
  const ca = await createTestCa('Parser CA');
  const leaf = await ca.issue('client');
  leafPem = leaf.certPem;
  caPem = ca.certPem;
  leafDer = pemCertificatesToDer(leafPem)[0] as Buffer;
  caDer = pemCertificatesToDer(caPem)[0] as Buffer;
});

/** nginx's $ssl_client_escaped_cert: the PEM, URL-encoded. */
const escaped = (pem: string) => encodeURIComponent(pem);

function refused(fn: () => unknown, syntax: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ForwardedCertError, `a ForwardedCertError, got ${String(error)}`);
    assert.equal(error.syntax, syntax);
    assert.equal(error.reason, 'forwarded_cert_malformed');
    assert.equal(error.statusCode, 400);
    return true;
  });
}

describe('X-Forwarded-Client-Cert', () => {
  test('nginx style: one element with a quoted, URL-encoded Cert', () => {
    const cert = clientCertFromXfcc(`Cert="${escaped(leafPem)}"`);
    assert.deepEqual(cert.leaf, leafDer);
    assert.deepEqual(cert.chain, []);
  });

  test('Envoy style: Hash, Cert, Chain, Subject, URI, DNS, By; several hops, the first is the client', () => {
    const hash = createHash('sha256').update(leafDer).digest('hex');
    const value =
      `By=spiffe://proxy.example/edge;Hash=${hash};Cert="${escaped(leafPem)}";Chain="${escaped(leafPem + caPem)}";` +
      `Subject="CN=client,O=Acme; Inc";URI=${testUri('client')};DNS=localhost;DNS=client.example,` +
      'By=spiffe://proxy.example/inner;Hash=' +
      'a'.repeat(64) +
      ';URI=spiffe://proxy.example/edge';
    const [first, second] = parseXfcc(value);
    assert.equal(first?.hash, hash);
    assert.deepEqual(first?.cert, leafDer);
    assert.deepEqual(first?.chain, [leafDer, caDer]);
    assert.equal(first?.subject, 'CN=client,O=Acme; Inc');
    assert.deepEqual(first?.uris, [testUri('client')]);
    assert.deepEqual(first?.dns, ['localhost', 'client.example']);
    assert.deepEqual(first?.by, ['spiffe://proxy.example/edge']);
    assert.deepEqual(second?.by, ['spiffe://proxy.example/inner']);
    assert.deepEqual(clientCertFromXfcc(value).leaf, leafDer);
  });

  test('quoted values keep escaped quotes; unknown keys are ignored', () => {
    const [element] = parseXfcc('Subject="CN=\\"q\\"";Future=x;URI=urn:a');
    assert.equal(element?.subject, 'CN="q"');
    assert.deepEqual(element?.uris, ['urn:a']);
  });

  test('malformed headers are refused with their reason', () => {
    refused(() => parseXfcc(''), 'syntax');
    refused(() => parseXfcc('Cert'), 'syntax');
    refused(() => parseXfcc('URI=a,,URI=b'), 'syntax');
    refused(() => parseXfcc('URI=a;'), 'syntax');
    refused(() => parseXfcc('Subject="unterminated'), 'syntax');
    refused(() => parseXfcc('Subject="x\\'), 'syntax');
    refused(() => parseXfcc('URI=a"b'), 'syntax');
    refused(() => parseXfcc('Hash=abc'), 'syntax');
    refused(() => parseXfcc('Cert=%E0%A4%A'), 'bad_percent_encoding');
    refused(() => parseXfcc('Cert=%ZZ'), 'bad_percent_encoding');
    refused(() => parseXfcc('Cert=not-a-pem'), 'not_a_certificate');
    refused(
      () => parseXfcc(`Cert="${escaped('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----')}"`),
      'bad_base64',
    );
    refused(() => parseXfcc(`Cert="${escaped(`${leafPem}${leafPem}`)}"`), 'chain_too_long');
    refused(() => parseXfcc(`Cert="${escaped(`junk${leafPem}`)}"`), 'not_a_certificate');
    refused(() => parseXfcc(`Cert="${escaped(leafPem)}";Cert="${escaped(leafPem)}"`), 'syntax');
    refused(() => parseXfcc(`Hash=${'0'.repeat(64)};Cert="${escaped(leafPem)}"`), 'syntax');
    refused(() => clientCertFromXfcc(`Hash=${'0'.repeat(64)};URI=urn:a`), 'no_certificate');
    refused(() => parseXfcc(Array.from({ length: 17 }, () => 'URI=a').join(',')), 'too_many_elements');
    refused(() => parseXfcc(`URI=${'a'.repeat(70_000)}`), 'header_too_long');
    const big = `-----BEGIN CERTIFICATE-----\n${randomBytes(20_000).toString('base64')}\n-----END CERTIFICATE-----`;
    refused(() => parseXfcc(`Cert="${escaped(big)}"`), 'cert_too_large');
  });
});

describe('RFC 9440 Client-Cert / Client-Cert-Chain', () => {
  test('HAProxy style: :base64 DER:', () => {
    assert.deepEqual(parseClientCert(`:${leafDer.toString('base64')}:`), leafDer);
    assert.deepEqual(
      parseClientCertChain(` :${caDer.toString('base64')}: , :${leafDer.toString('base64')}:`),
      [caDer, leafDer],
    );
  });

  test('malformed values are refused with their reason', () => {
    const b64 = leafDer.toString('base64');
    refused(() => parseClientCert(b64), 'syntax');
    refused(() => parseClientCert(`:${b64}`), 'syntax');
    refused(() => parseClientCert(':'), 'syntax');
    refused(() => parseClientCert('::'), 'not_a_certificate');
    refused(() => parseClientCert(`:${b64}:, :${b64}:`), 'bad_base64');
    refused(() => parseClientCert(`:${b64}:;a=1`), 'syntax');
    refused(() => parseClientCert(`:${b64.replace(/.$/, '!')}:`), 'bad_base64');
    refused(() => parseClientCert(':QQ=x:'), 'bad_base64');
    refused(() => parseClientCert(':QR==:'), 'bad_base64');
    refused(() => parseClientCert(':Q:'), 'bad_base64');
    refused(() => parseClientCert(`:${'A'.repeat(70_000)}:`), 'header_too_long');
    refused(() => parseClientCert(`:${randomBytes(20_000).toString('base64')}:`), 'cert_too_large');
    refused(() => parseClientCertChain(''), 'syntax');
    refused(() => parseClientCertChain(`:${b64}:,`), 'syntax');
    refused(
      () => parseClientCertChain(Array.from({ length: 9 }, () => `:${b64}:`).join(',')),
      'chain_too_long',
    );
  });
});

describe('fuzz: malformed input never crashes a parser', () => {
  /** Only ForwardedCertError may escape, or a result. */
  function survives(parse: (value: string) => unknown, value: string): void {
    try {
      parse(value);
    } catch (error) {
      if (!(error instanceof ForwardedCertError))
        throw new Error(`${String(error)} for input ${JSON.stringify(value.slice(0, 200))}`);
    }
  }
  const parsers: [string, (value: string) => unknown][] = [
    ['xfcc', (v) => clientCertFromXfcc(v)],
    ['client-cert', (v) => parseClientCert(v)],
    ['client-cert-chain', (v) => parseClientCertChain(v)],
  ];
  const alphabet = 'Cert=URI;,"\\%:=+/ABCabc019-_ \t\n';

  for (const [name, parse] of parsers) {
    test(`${name}: random bytes, random header-alphabet strings, truncations and mutations of a good value`, () => {
      const good =
        name === 'xfcc'
          ? `Hash=${createHash('sha256').update(leafDer).digest('hex')};Cert="${escaped(leafPem)}";URI=${testUri('client')}`
          : `:${leafDer.toString('base64')}:`;
      for (let i = 0; i < 400; i++) survives(parse, randomBytes(1 + (i % 300)).toString('latin1'));
      for (let i = 0; i < 400; i++) {
        let s = '';
        for (let j = 0; j < 1 + (i % 120); j++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
        survives(parse, s);
      }
      for (let cut = 0; cut < good.length; cut += 7) survives(parse, good.slice(0, cut));
      for (let i = 0; i < 400; i++) {
        const at = Math.floor(Math.random() * good.length);
        const chars = [...good];
        chars[at] = alphabet[Math.floor(Math.random() * alphabet.length)] as string;
        survives(parse, chars.join(''));
      }
      survives(parse, good.repeat(40));
    });
  }
});

describe('client address behind trusted proxies', () => {
  const trusted = parseCidrs(['10.0.0.0/8', '::1']);
  test('the rightmost untrusted hop of X-Forwarded-For; X-Real-IP only without it', () => {
    assert.equal(
      forwardedClientIp('10.0.0.1', { 'x-forwarded-for': '1.1.1.1, 203.0.113.7, 10.0.0.2' }, trusted),
      '203.0.113.7',
    );
    assert.equal(forwardedClientIp('10.0.0.1', { 'x-forwarded-for': '10.0.0.3' }, trusted), '10.0.0.3');
    assert.equal(
      forwardedClientIp('10.0.0.1', { 'x-forwarded-for': 'garbage, 10.0.0.3' }, trusted),
      '10.0.0.3',
    );
    assert.equal(forwardedClientIp('10.0.0.1', { 'x-real-ip': '198.51.100.2' }, trusted), '198.51.100.2');
    assert.equal(forwardedClientIp('10.0.0.1', { 'x-real-ip': 'nope' }, trusted), '10.0.0.1');
    assert.equal(forwardedClientIp('10.0.0.1', {}, trusted), '10.0.0.1');
  });
  test('CIDR lists: IPv4-mapped IPv6 addresses match IPv4 networks; bad entries are refused', () => {
    assert.ok(trusted.has('::ffff:10.1.2.3'));
    assert.ok(trusted.has('::1'));
    assert.ok(!trusted.has('11.0.0.1'));
    assert.ok(!trusted.has('not an address'));
    assert.throws(() => parseCidrs(['10.0.0.0/33']), /not an IP address or CIDR/);
    assert.throws(() => parseCidrs(['example.org']), /not an IP address or CIDR/);
  });
});
