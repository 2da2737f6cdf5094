// Rule 2: TLS 1.3 only, three AEAD suites, no system CAs, client certificates required. Database clients
// are the one exception (databaseClientTlsOptions): TLS 1.2 allowed as a floor, system CAs on request.
// Node has no `ciphersuites` option: TLS 1.3 suite names go in `ciphers` (a `ciphersuites` key is ignored).
import { type ConnectionOptions, rootCertificates, type TlsOptions } from 'node:tls';

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

/**
 * TLS 1.2 suites offered to a database server that cannot speak 1.3: ECDHE key exchange (forward secrecy)
 * with an AEAD cipher only. Federation never uses these (rule 2); a database is a server we do not control.
 */
export const DATABASE_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** The lowest TLS version a database connection accepts; TLS 1.3 is always the highest and is preferred. */
export type DatabaseTlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface DatabaseTlsPolicy {
  /** Default 'TLSv1.2': PostgreSQL 15 and MariaDB 10.11 accept 1.2 and 1.3, and 1.3 is negotiated when both sides have it. */
  minVersion?: DatabaseTlsVersion;
  /** Also trust Node's bundled root CAs (a managed database with a public certificate). Default false. */
  systemCa?: boolean;
}

/**
 * Client options for a database server: our certificate and key, the configured CA bundle only (unless
 * `systemCa`), TLS 1.3 preferred with 1.2 as the floor by default. The server's name is checked by the caller.
 */
export function databaseClientTlsOptions(
  material: PemMaterial,
  policy: DatabaseTlsPolicy = {},
): ConnectionOptions {
  const minVersion = policy.minVersion ?? 'TLSv1.2';
  return {
    minVersion,
    maxVersion: TLS_VERSION,
    ciphers: minVersion === TLS_VERSION ? TLS_CIPHERS : `${TLS_CIPHERS}:${DATABASE_TLS12_CIPHERS}`,
    cert: material.certPem,
    key: material.keyPem,
    ca: policy.systemCa ? [...rootCertificates, material.caPem] : material.caPem,
    rejectUnauthorized: true,
  };
}
