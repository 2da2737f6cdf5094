// `tessera tls probe`: one handshake against a server with our credentials, reporting who the server is,
// its chain and expiry, the negotiated protocol and suite, whether it would pass our checks, and whether
// it kept the connection open once it had seen our certificate (under TLS 1.3 a refusal of the client
// certificate arrives only after the handshake, as an alert or a closed socket).
import { readFile } from 'node:fs/promises';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { type CertificateInfo, inspectCertificates } from '../pki/inspect.ts';
import { type Authorizer, allOf, allow, exactUri, peerCertificateRules } from '../tls/authorize.ts';
import { TlsError } from '../tls/errors.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../tls/identity.ts';
import { clientTlsOptions } from '../tls/policy.ts';
import { reasonForVerifyError } from './rejections.ts';

export interface ProbeOptions {
  host: string;
  port: number;
  certPath: string;
  keyPath: string;
  caPath: string;
  expectUri?: string;
  timeoutMs?: number;
  /** How long to wait after the handshake for the server to refuse our certificate; default 500 ms. */
  settleMs?: number;
  now?: Date;
}

export interface ProbeResult {
  target: string;
  protocol: string | null;
  cipher: string | null;
  chainVerified: boolean;
  verifyError: string | null;
  identity: PeerIdentity | null;
  chain: CertificateInfo[];
  expectedUri: string | null;
  /** Would our client accept this server (chain, certificate rules, expected URI)? */
  authorized: boolean;
  reasons: string[];
  /** Did the server keep the connection after seeing our certificate? null when not observable. */
  serverAcceptedUs: boolean | null;
  serverRefusal: string | null;
}

export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const [certPem, keyPem, caPem] = (await Promise.all(
    [options.certPath, options.keyPath, options.caPath].map(async (file) => {
      try {
        return await readFile(file, 'utf8');
      } catch (error) {
        throw new TlsError(
          'TLS_FILE_UNREADABLE',
          `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
          file,
        );
      }
    }),
  )) as [string, string, string];
  const target = `${options.host}:${options.port}`;
  const socket = connect({
    ...clientTlsOptions({ certPem, keyPem, caPem }),
    host: options.host,
    port: options.port,
    // We judge the chain ourselves below so that a failing server can still be described.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
  const timeoutMs = options.timeoutMs ?? 10_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      const cause = Object.assign(new Error('handshake timeout'), { code: 'ETIMEDOUT' });
      reject(new Error(`probe of ${target} timed out after ${timeoutMs} ms`, { cause }));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          `TLS handshake with ${target} failed: ${error.code ?? ''} ${error.message.split('\n')[0]}`.trim(),
          // The cause's code (ECONNREFUSED, ETIMEDOUT, ERR_SSL_…) lets callers tell unreachable from refused.
          { cause: error },
        ),
      );
    });
  });

  const result = describe(socket, options, target);
  const refusal = await waitForRefusal(socket, options.settleMs ?? 500);
  result.serverAcceptedUs = refusal === null;
  result.serverRefusal = refusal;
  if (refusal) result.reasons.push(`server refused our certificate: ${refusal}`);
  result.authorized = result.reasons.length === 0;
  socket.destroy();
  return result;
}

function describe(socket: TLSSocket, options: ProbeOptions, target: string): ProbeResult {
  // The chain first: on Node 20, getPeerCertificate(true) returns {} once getPeerX509Certificate() was called.
  const chain = peerChain(socket);
  const raw = socket.getPeerX509Certificate()?.raw;
  const identity = raw ? peerIdentityFromDer(raw) : null;
  const reasons: string[] = [];
  const verifyError = socket.authorizationError ? String(socket.authorizationError) : null;
  if (verifyError) reasons.push(`${reasonForVerifyError(verifyError)}: ${verifyError}`);
  if (identity) {
    const authorize: Authorizer = allOf(
      peerCertificateRules,
      options.expectUri ? exactUri(options.expectUri) : () => allow,
    );
    const decision = authorize(identity, { side: 'client', now: options.now ?? new Date() });
    if (!decision.allow) reasons.push(`${decision.reason}: ${decision.detail}`);
  } else {
    reasons.push('server presented no certificate');
  }
  const cipher = socket.getCipher();
  return {
    target,
    protocol: socket.getProtocol(),
    cipher: cipher?.standardName ?? cipher?.name ?? null,
    chainVerified: socket.authorized,
    verifyError,
    identity,
    chain,
    expectedUri: options.expectUri ?? null,
    authorized: false,
    reasons,
    serverAcceptedUs: null,
    serverRefusal: null,
  };
}

function peerChain(socket: TLSSocket): CertificateInfo[] {
  const infos: CertificateInfo[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    infos.push(...inspectCertificates(cert.raw));
    cert = cert.issuerCertificate;
  }
  return infos;
}

function waitForRefusal(socket: TLSSocket, settleMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), settleMs);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
    socket.once('end', () => {
      clearTimeout(timer);
      resolve('connection closed by the server right after the handshake');
    });
    socket.resume();
  });
}
