// Rule 2: TLS 1.3 only, three AEAD suites, no system CAs, client certificates required.
// Node has no `ciphersuites` option: TLS 1.3 suite names go in `ciphers` (a `ciphersuites` key is ignored).
import type { ConnectionOptions, TlsOptions } from 'node:tls';

export const TLS_VERSION = 'TLSv1.3' as const;
export const TLS_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

export interface PemMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

const protocol = { minVersion: TLS_VERSION, maxVersion: TLS_VERSION, ciphers: TLS_CIPHERS } as const;

/** Server options: `ca` replaces Node's default root store, so only the configured bundle is trusted. */
export function serverTlsOptions(material: PemMaterial): TlsOptions {
  return {
    ...protocol,
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    requestCert: true,
    rejectUnauthorized: true,
  };
}

export function clientTlsOptions(material: PemMaterial): ConnectionOptions {
  return {
    ...protocol,
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    rejectUnauthorized: true,
  };
}
