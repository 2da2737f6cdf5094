// The TLS material every reference server loads, and the command line both API reference servers take:
// CERT KEY CA POST_REPLY_FILE GET_REPLY_FILE. Returns the node's TLS policy for that material and the two
// replies they answer with (Tessera's own, byte for byte).
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { serverTlsOptions } from '../src/tls/policy.ts';

/** The node's TLS policy for the material in these PEM files, as every reference server uses it. */
export function referenceTls(certPath: string, keyPath: string, caPath: string): TlsOptions {
  return serverTlsOptions({
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    caPem: readFileSync(caPath, 'utf8'),
  });
}

export function referenceArgs(argv: string[]): { tls: TlsOptions; postReply: Buffer; getReply: Buffer } {
  const [certPath, keyPath, caPath, postReplyPath, getReplyPath] = argv as [
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    tls: referenceTls(certPath, keyPath, caPath),
    postReply: readFileSync(postReplyPath),
    getReply: readFileSync(getReplyPath),
  };
}
