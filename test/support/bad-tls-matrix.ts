// The bad-TLS matrix as one suite every adapter runs (HTTPS, gRPC, framed TCP, proxy-forwarded identity):
// each way a peer can fail to prove itself, with the reason the adapter must count. An adapter joins by
// giving a driver: start its server with some material and make one real exchange of its protocol as a
// client holding a given certificate (server side), or point its client at a TLS server presenting a given
// certificate (client side). The suite owns the certificates and the expectations, so every wire is held
// to the same rules. The material handed to a driver carries a `crlPath` (a directory: a CRL of the matrix
// CA revoking one certificate, and a stale CRL of a second CA of the bundle): the driver must load it as
// the CRL path of its credentials (openStaticCredentials does) for the cert_revoked and crl_stale cases.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ConnectionOptions, createServer, type TLSSocket } from 'node:tls';
import { buildCertificate, type IssuedCertificate } from '../../src/pki/certificate.ts';
import { serverTlsOptions } from '../../src/tls/policy.ts';
import { writeCrl } from './crl.ts';
import { createTestCa, DAY_MS, pemOf, type TestCa, tempDir, testUri, writeMaterial } from './pki.ts';

/** A client's certificate (leaf, then any chain) and key, PEM. */
export interface ClientCredential {
  certPem: string;
  keyPem: string;
}

/** What one exchange with the server under test came to. */
export interface ServerAttempt {
  /** The application answered (an HTTP 200, a gRPC reply, a frame back). */
  admitted: boolean;
  /** The reason the SERVER counted for refusing this client; null when admitted. */
  reason: string | null;
}

export interface ServerUnderTest {
  /** One full application exchange as a client presenting `client` (null: none), with TLS overrides. */
  attempt(client: ClientCredential | null, tls?: ConnectionOptions): Promise<ServerAttempt>;
  close(): Promise<void>;
}

export interface MatrixMaterial {
  certPath: string;
  keyPath: string;
  caPath: string;
  crlPath?: string;
}

/** Server-side cases; an adapter may declare some not applicable (say why), e.g. TLS versions behind a proxy. */
export type ServerCase =
  | 'admitted'
  | 'no_eku_admitted'
  | 'no_client_certificate'
  | 'cert_untrusted'
  | 'cert_expired'
  | 'cert_not_yet_valid'
  | 'cert_wrong_purpose'
  | 'ca_as_leaf'
  | 'cert_self_signed'
  | 'uri_mismatch'
  | 'uri_smuggled'
  | 'protocol_version'
  | 'no_shared_cipher'
  | 'cert_revoked'
  | 'crl_stale';

export interface ServerDriver {
  name: string;
  /** Starts the adapter's server on 127.0.0.1:0 with this material, admitting only the client URI `clientUri`. */
  start(material: MatrixMaterial, clientUri: string): Promise<ServerUnderTest>;
  /** Cases that do not apply to this adapter, with the reason (shown as the test's skip message). */
  notApplicable?: Partial<Record<ServerCase, string>>;
}

export interface ClientDriver {
  name: string;
  /**
   * Connects the adapter's client (our certificate: `material`) to 127.0.0.1:`port`, expecting the server
   * to be `serverUri`, and tries one exchange. `reason`: what the CLIENT reports for refusing the server.
   */
  attempt(
    port: number,
    material: MatrixMaterial,
    serverUri: string,
  ): Promise<{ connected: boolean; reason: string | null }>;
}

const CLIENT_URI = testUri('client');
const SERVER_URI = testUri('server');

/** Registers the server half of the matrix for one adapter (call at the top level of a test file). */
export function serverMatrix(driver: ServerDriver): void {
  describe(`bad-TLS matrix, server side: ${driver.name}`, () => {
    let ca: TestCa;
    let server: ServerUnderTest;
    const asClient = (leaf: IssuedCertificate): ClientCredential => ({
      certPem: leaf.chainPem,
      keyPem: leaf.keyPem,
    });

    let staleCa: TestCa;
    let revokedClient: IssuedCertificate;

    before(async () => {
      ca = await createTestCa('Matrix CA');
      staleCa = await createTestCa('Matrix Stale CA');
      revokedClient = await ca.issue('client');
      const dir = await tempDir({ after }, 'tessera-matrix-');
      const crlPath = await writeMatrixCrls(dir, ca, revokedClient, staleCa);
      server = await driver.start(
        {
          ...(await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem + staleCa.certPem)),
          crlPath,
        },
        CLIENT_URI,
      );
    });
    after(() => server?.close());

    const cases: [ServerCase, string, () => Promise<ClientCredential | null>, ConnectionOptions?][] = [
      [
        'admitted',
        'a valid client with the expected URI SAN is admitted',
        async () => asClient(await ca.issue('client')),
      ],
      [
        'no_eku_admitted',
        'a client certificate with no EKU extension is admitted (RFC 5280: any purpose)',
        async () => asClient(await ca.issue('client', { extendedKeyUsages: null })),
      ],
      ['no_client_certificate', 'no client certificate', async () => null],
      [
        'cert_untrusted',
        'a client certificate from another CA',
        async () => asClient(await (await createTestCa('Other CA')).issue('client')),
      ],
      [
        'cert_expired',
        'an expired client certificate',
        async () =>
          asClient(
            await ca.issue('client', {
              notBefore: new Date(Date.now() - 10 * DAY_MS),
              notAfter: new Date(Date.now() - DAY_MS),
            }),
          ),
      ],
      [
        'cert_not_yet_valid',
        'a client certificate not valid yet',
        async () =>
          asClient(
            await ca.issue('client', {
              notBefore: new Date(Date.now() + DAY_MS),
              notAfter: new Date(Date.now() + 10 * DAY_MS),
            }),
          ),
      ],
      [
        'cert_wrong_purpose',
        'a client certificate whose EKU lacks clientAuth',
        async () => asClient(await ca.issue('client', { extendedKeyUsages: ['serverAuth'] })),
      ],
      [
        'ca_as_leaf',
        'a CA certificate (with the expected URI) used as the client leaf',
        async () =>
          asClient(
            await buildCertificate({
              subjectCN: 'rogue intermediate',
              isCa: true,
              uris: [CLIENT_URI],
              extendedKeyUsages: ['serverAuth', 'clientAuth'],
              issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
            }),
          ),
      ],
      [
        'cert_self_signed',
        'a self-signed client leaf carrying the expected URI',
        async () => asClient(await buildCertificate({ subjectCN: 'client', uris: [CLIENT_URI] })),
      ],
      [
        'uri_mismatch',
        'a valid chain with the wrong URI SAN',
        async () => asClient(await ca.issue('intruder')),
      ],
      [
        'uri_smuggled',
        'a URI SAN smuggling ", URI:<expected>" (one URI, read from the DER)',
        async () =>
          asClient(await ca.issue('intruder', { uris: [`${testUri('intruder')}, URI:${CLIENT_URI}`] })),
      ],
      [
        'protocol_version',
        'a TLS 1.2-only client',
        async () => asClient(await ca.issue('client')),
        { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
      ],
      [
        'no_shared_cipher',
        'a client offering only TLS_AES_128_CCM_SHA256',
        async () => asClient(await ca.issue('client')),
        { ciphers: 'TLS_AES_128_CCM_SHA256' },
      ],
      [
        'cert_revoked',
        "a client certificate (expected URI SAN) whose serial is on its CA's CRL",
        async () => asClient(revokedClient),
      ],
      [
        'crl_stale',
        'a client of a CA whose CRL is past nextUpdate (stale policy fail)',
        async () => asClient(await staleCa.issue('client')),
      ],
    ];
    /** The reason the server must count for each refusal case. */
    const expected: Partial<Record<ServerCase, string>> = {
      ca_as_leaf: 'cert_wrong_purpose',
      uri_smuggled: 'uri_mismatch',
    };

    for (const [name, title, credential, tls] of cases) {
      const skip = driver.notApplicable?.[name];
      const admitted = name === 'admitted' || name === 'no_eku_admitted';
      const reason = admitted ? null : (expected[name] ?? name);
      test(`${title} → ${admitted ? 'admitted' : reason}`, skip ? { skip } : {}, async () => {
        const outcome = await server.attempt(await credential(), tls);
        assert.deepEqual(outcome, { admitted, reason });
      });
    }
  });
}

/** Registers the client half of the matrix: the adapter's client must refuse each bad server before sending a byte. */
export function clientMatrix(driver: ClientDriver): void {
  describe(`bad-TLS matrix, client side: ${driver.name}`, () => {
    let ca: TestCa;
    let client: MatrixMaterial;
    let staleCa: TestCa;
    let revokedServer: IssuedCertificate;
    const cleanup: (() => unknown)[] = [];

    before(async () => {
      ca = await createTestCa('Matrix CA');
      staleCa = await createTestCa('Matrix Stale CA');
      revokedServer = await ca.issue('server');
      const dir = await tempDir({ after: (fn) => cleanup.push(fn) }, 'tessera-matrix-');
      const crlPath = await writeMatrixCrls(dir, ca, revokedServer, staleCa);
      client = {
        ...(await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem + staleCa.certPem)),
        crlPath,
      };
    });
    after(async () => {
      for (const fn of cleanup) await fn();
    });

    /** A bare TLS 1.3 server presenting `leaf` that counts every application byte it receives. */
    async function countingServer(leaf: IssuedCertificate, caPem: string) {
      const server = createServer(serverTlsOptions(pemOf(leaf, caPem)));
      const state = { bytes: 0, closed: 0 };
      server.on('secureConnection', (socket: TLSSocket) => {
        socket.on('data', (chunk: Buffer) => {
          state.bytes += chunk.length;
        });
        socket.on('error', () => {});
        socket.on('close', () => state.closed++);
      });
      server.on('tlsClientError', () => state.closed++);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return { server, state, port: (server.address() as AddressInfo).port };
    }

    const cases: [string, string, () => Promise<IssuedCertificate>][] = [
      ['uri_mismatch', 'a server with a valid chain but the wrong URI SAN', () => ca.issue('impostor')],
      [
        'uri_mismatch',
        'a server whose URI SAN smuggles ", URI:<expected>"',
        () => ca.issue('impostor', { uris: [`${testUri('impostor')}, URI:${SERVER_URI}`] }),
      ],
      [
        'cert_untrusted',
        'a server from another CA',
        async () => (await createTestCa('Other CA')).issue('server'),
      ],
      [
        'cert_expired',
        'a server with an expired certificate',
        () =>
          ca.issue('server', {
            notBefore: new Date(Date.now() - 10 * DAY_MS),
            notAfter: new Date(Date.now() - DAY_MS),
          }),
      ],
      [
        'cert_not_yet_valid',
        'a server whose certificate is not valid yet',
        () =>
          ca.issue('server', {
            notBefore: new Date(Date.now() + DAY_MS),
            notAfter: new Date(Date.now() + 10 * DAY_MS),
          }),
      ],
      [
        'cert_wrong_purpose',
        'a server certificate whose EKU lacks serverAuth',
        () => ca.issue('server', { extendedKeyUsages: ['clientAuth'] }),
      ],
      ['cert_revoked', "a server whose certificate's serial is on its CA's CRL", async () => revokedServer],
      [
        'crl_stale',
        'a server of a CA whose CRL is past nextUpdate (stale policy fail)',
        () => staleCa.issue('server'),
      ],
    ];

    for (const [reason, title, leaf] of cases) {
      test(`${title} → refused (${reason}) before a byte is sent`, async () => {
        const issued = await leaf();
        const { server, state, port } = await countingServer(issued, ca.certPem);
        try {
          const outcome = await driver.attempt(port, client, SERVER_URI);
          assert.deepEqual(outcome, { connected: false, reason });
          const deadline = Date.now() + 10_000;
          while (state.closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          assert.equal(state.bytes, 0, 'not a single application byte reached the server');
        } finally {
          server.close();
        }
      });
    }
  });
}

/** The matrix's CRL directory: the matrix CA's CRL revoking `revoked`, and a stale CRL of `staleCa`. */
async function writeMatrixCrls(
  dir: string,
  ca: TestCa,
  revoked: IssuedCertificate,
  staleCa: TestCa,
): Promise<string> {
  const crlDir = join(dir, 'crls');
  await mkdir(crlDir);
  await writeCrl(join(crlDir, 'matrix.crl'), ca, [revoked]);
  await writeCrl(join(crlDir, 'stale.crl'), staleCa, [], { stale: true });
  return crlDir;
}
