// The HTTPS half of a manifest fetch: GET /.well-known/tessera-manifest.json on one fresh node:https
// connection (agent: false), recording the certificate the peer presented on that very connection so the
// federation code can bind the manifest to it. Only the generic certificate rules and our CRLs apply here;
// which entity the peer must be is decided by the caller from the manifest.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { peerCertificateRules } from '../../../../tls/authorize.ts';
import { PeerRejectedError } from '../../../../tls/errors.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../../../../tls/identity.ts';
import { clientTlsOptions, type PemMaterial } from '../../../../tls/policy.ts';
import { checkPeerTrust, type TrustMaterial } from '../../../../tls/revocation.ts';
import { ManifestError } from '../../identity/manifest.ts';
import type { ManifestResponse } from '../peer-transport.ts';
import { FEDERATION_PATHS } from './paths.ts';

const MAX_MANIFEST_BYTES = 64 * 1024;

export interface GetManifestOptions {
  /** Our TLS material; needed for https:// URLs. */
  credentials: { readonly material: PemMaterial & Partial<TrustMaterial> } | null;
  /** The insecure dev mode: http:// URLs allowed (no TLS, so no certificate binding is possible). */
  insecure: boolean;
  timeoutMs: number;
  now?: Date;
}

export async function getManifest(
  federationUrl: string,
  options: GetManifestOptions,
): Promise<ManifestResponse> {
  const target = manifestUrl(federationUrl, options.insecure);
  const { body, identity } = await get(target, options, options.now ?? new Date());
  return { body, identity, secure: target.protocol === 'https:', origin: target.origin };
}

function manifestUrl(raw: string, insecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ManifestError('manifest_fetch_failed', `"${raw}" is not a URL`);
  }
  if (url.protocol === 'http:' && !insecure)
    throw new ManifestError(
      'insecure_transport_refused',
      `${url.origin} is plain http; federation needs https (http only in the insecure dev mode)`,
    );
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ManifestError('manifest_fetch_failed', `${raw}: only https:// (or dev-mode http://) URLs`);
  if (url.username || url.password)
    throw new ManifestError('manifest_fetch_failed', `${url.origin}: credentials in the URL are not allowed`);
  return new URL(FEDERATION_PATHS.manifest, url.origin);
}

interface RawResponse {
  body: unknown;
  identity: PeerIdentity | null;
}

function get(target: URL, options: GetManifestOptions, now: Date): Promise<RawResponse> {
  const origin = target.origin;
  const { timeoutMs } = options;
  let identity: PeerIdentity | null = null;
  return new Promise<RawResponse>((resolve, reject) => {
    const headers = { accept: 'application/json', connection: 'close' };
    let req: ReturnType<typeof httpRequest>;
    if (target.protocol === 'https:') {
      const material = options.credentials?.material;
      if (!material) {
        reject(
          new ManifestError(
            'manifest_fetch_failed',
            `${origin}: https needs our TLS credentials; none given`,
          ),
        );
        return;
      }
      req = httpsRequest(target, {
        method: 'GET',
        agent: false,
        headers,
        ...clientTlsOptions(material),
        // Runs after the chain verified and before a request byte is written. The identity is recorded
        // here and bound to the manifest once it arrives; the generic certificate rules apply now.
        checkServerIdentity: (_host, cert) => {
          identity = peerIdentityFromDer(cert.raw);
          const decision = peerCertificateRules(identity, { side: 'client', origin, now });
          if (!decision.allow) return new PeerRejectedError(decision.reason, decision.detail);
          const revoked = hasTrust(material) ? checkPeerTrust(identity, material, now) : null;
          return revoked ? new PeerRejectedError(revoked.reason, revoked.detail) : undefined;
        },
      });
    } else {
      req = httpRequest(target, { method: 'GET', agent: false, headers });
    }
    const timer = setTimeout(
      () =>
        req.destroy(new ManifestError('peer_unreachable', `${origin}: no manifest within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(toManifestError(error, origin));
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      res.on('error', fail);
      if (res.statusCode !== 200) {
        res.resume();
        fail(new ManifestError('manifest_fetch_failed', `${target.href} answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_MANIFEST_BYTES) {
          req.destroy(
            new ManifestError(
              'manifest_malformed',
              `${target.href}: larger than ${MAX_MANIFEST_BYTES} bytes`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          reject(new ManifestError('manifest_malformed', `${target.href} did not answer JSON`));
          return;
        }
        resolve({ body, identity });
      });
    });
    req.end();
  });
}

// The codes node:tls gives OpenSSL's certificate verification failures: the peer's certificate, not the
// network, is the problem.
const X509_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function toManifestError(error: unknown, origin: string): ManifestError {
  if (error instanceof ManifestError) return error;
  if (error instanceof PeerRejectedError)
    return new ManifestError('tls_certificate_rejected', `${origin}: ${error.reason}: ${error.detail}`);
  const { code, message } = error as NodeJS.ErrnoException;
  if (code && X509_VERIFY_CODES.has(code))
    return new ManifestError('tls_certificate_rejected', `${origin}: ${code}: ${message}`);
  // Under TLS 1.3 a server that refuses our certificate shows up only as a closed socket.
  const hint =
    code === 'ECONNRESET' || message === 'socket hang up'
      ? ' (the peer may have refused our certificate)'
      : '';
  return new ManifestError('peer_unreachable', `${origin}: ${message}${hint}`);
}

/** Material from a CredentialSource carries the CRLs and stale policy; bare PEM material has none. */
function hasTrust(material: PemMaterial & Partial<TrustMaterial>): material is PemMaterial & TrustMaterial {
  return material.crls !== undefined && material.crlStale !== undefined && material.cas !== undefined;
}
