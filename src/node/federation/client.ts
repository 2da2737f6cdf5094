// Calls to a peer's federation API: a fresh peer token per request (tokens are single-use), over the
// node's federation dispatcher (the mTLS agent that checks the peer's URI SAN before a byte is sent).
import type { KeyObject } from 'node:crypto';
import { type Dispatcher, request } from 'undici';
import type { PeerRecord } from '../../store/ports/peers.ts';
import type { Clock } from '../../tls/clock.ts';
import { mintPeerToken } from './peer-token.ts';

export interface FederationClientOptions {
  dispatcher: Dispatcher;
  selfEntityUri: string;
  nodeKey: () => { privateKey: KeyObject; keyId: string };
  clock: Clock;
  timeoutMs?: number;
}

/** A feed page is at most 500 facts of at most 64 KiB each: anything much larger is a broken or hostile peer. */
const MAX_RESPONSE_BYTES = 40 * 1024 * 1024;

async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy(): unknown },
  max: number,
  who: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new FederationHttpError(502, 'response_too_large', `${who} sent more than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class FederationHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'FederationHttpError';
  }
}

export class FederationClient {
  constructor(private readonly options: FederationClientOptions) {}

  async call<T>(peer: PeerRecord, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const key = this.options.nodeKey();
    const token = await mintPeerToken({
      privateKey: key.privateKey,
      keyId: key.keyId,
      issuer: this.options.selfEntityUri,
      audience: peer.entityUri,
      now: this.options.clock(),
    });
    const timeout = this.options.timeoutMs ?? 30_000;
    const response = await request(new URL(path, peer.federationUrl), {
      method,
      dispatcher: this.options.dispatcher,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await readCapped(response.body, MAX_RESPONSE_BYTES, peer.entityUri);
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      throw new FederationHttpError(
        response.statusCode,
        'bad_response',
        `${peer.entityUri} answered non-JSON`,
      );
    }
    if (response.statusCode >= 400) {
      const error = parsed as { error?: string; detail?: string } | null;
      throw new FederationHttpError(
        response.statusCode,
        error?.error ?? 'http_error',
        `${peer.entityUri} answered ${response.statusCode}: ${error?.detail ?? text.slice(0, 200)}`,
      );
    }
    return parsed as T;
  }
}
