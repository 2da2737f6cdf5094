// The command line both API reference servers take: CERT KEY CA POST_REPLY_FILE GET_REPLY_FILE. Returns the
// node's TLS policy for that material and the two replies they answer with (Tessera's own, byte for byte).
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { serverTlsOptions } from '../src/tls/policy.ts';

export function referenceArgs(argv: string[]): { tls: TlsOptions; postReply: Buffer; getReply: Buffer } {
  const [certPath, keyPath, caPath, postReplyPath, getReplyPath] = argv as [
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    tls: serverTlsOptions({
      certPem: readFileSync(certPath, 'utf8'),
      keyPem: readFileSync(keyPath, 'utf8'),
      caPem: readFileSync(caPath, 'utf8'),
    }),
    postReply: readFileSync(postReplyPath),
    getReply: readFileSync(getReplyPath),
  };
}
