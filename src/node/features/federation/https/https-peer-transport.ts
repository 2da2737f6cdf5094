// The HTTPS adapter of the peer transport: federation calls over the node's mTLS undici agent (which checks
// the peer's URI SAN before a byte is sent, and follows credential reloads), and manifest fetches on one
// fresh node:https connection each (manifest-get.ts), so the identity bound is that connection's.
import { Agent, type Dispatcher, request } from 'undici';
import type { Clock } from '../../../../tls/clock.ts';
import type { CredentialSource } from '../../../../tls/credential-source.ts';
import type { ExpiryMonitor } from '../../../../tls/expiry.ts';
import type { Logger } from '../../../../tls/logger.ts';
import type { TlsMetrics } from '../../../../tls/metrics.ts';
import type { PemMaterial } from '../../../../tls/policy.ts';
import { createMtlsAgent } from '../../../../transport/http-client.ts';
import { NodeError } from '../../../errors.ts';
import { decodeUtf8, parseStrictJson } from '../../../strict-json.ts';
import type { FeedRequest, ManifestResponse, PeerAddress, PeerTransport } from '../peer-transport.ts';
import { getManifest } from './manifest-get.ts';
import { FEDERATION_PATHS } from './paths.ts';

/** A feed page is at most 500 facts of at most 64 KiB each: anything much larger is a broken or hostile peer. */
const MAX_RESPONSE_BYTES = 40 * 1024 * 1024;

export interface HttpsPeerTransportOptions {
  /**
   * Our TLS credentials; null in the insecure dev mode (plain http, no certificates). A bare `{material}`
   * is enough for manifest fetches (the CLI); federation calls need a CredentialSource.
   */
  credentials: CredentialSource | { readonly material: PemMaterial } | null;
  /** Allow plain http:// peers (dev mode); default: exactly when `credentials` is null. */
  insecure?: boolean;
  /** The entity URI an origin must prove (the peers we know); unknown origins are refused. */
  expectedIdentity?: (origin: string) => string | undefined;
  logger?: Logger;
  clock?: Clock;
  expiry?: ExpiryMonitor;
  /** Where refused peer certificates are counted. */
  metrics?: TlsMetrics;
  /** Per call, longest silence (headers, between body chunks); default 30 s (manifests: 10 s). */
  timeoutMs?: number;
  /** Per call, connect to last byte, however slowly a peer trickles; default 60 s. */
  totalTimeoutMs?: number;
  /** TCP connect and TLS handshake of a new connection; default 10 s. */
  connectTimeoutMs?: number;
  manifestTimeoutMs?: number;
  /** Every answer's `Date` header, with when the call was sent and its headers arrived (ms, our clock). */
  onAnswerDate?(peerEntityUri: string, date: string | undefined, sentMs: number, receivedMs: number): void;
}

export class HttpsPeerTransport implements PeerTransport {
  #dispatcher: Dispatcher | undefined;

  constructor(private readonly options: HttpsPeerTransportOptions) {}

  fetchManifest(federationUrl: string): Promise<ManifestResponse> {
    const { credentials } = this.options;
    return getManifest(federationUrl, {
      credentials,
      insecure: this.options.insecure ?? credentials === null,
      timeoutMs: this.options.manifestTimeoutMs ?? 10_000,
      ...(this.options.clock ? { now: this.options.clock() } : {}),
    });
  }

  pullFacts(peer: PeerAddress, token: string, feed: FeedRequest): Promise<unknown> {
    return this.#call(peer, token, 'GET', `${FEDERATION_PATHS.facts}?${feedQuery(feed)}`);
  }

  pullRevocations(peer: PeerAddress, token: string, feed: FeedRequest): Promise<unknown> {
    return this.#call(peer, token, 'GET', `${FEDERATION_PATHS.revocations}?${feedQuery(feed)}`);
  }

  async wake(peer: PeerAddress, token: string): Promise<void> {
    await this.#call(peer, token, 'POST', FEDERATION_PATHS.wake, {});
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  /** The pooled agent, made on first use (manifest-only users such as the CLI never need one). */
  #agent(): Dispatcher {
    if (this.#dispatcher) return this.#dispatcher;
    const { credentials } = this.options;
    if (credentials && !('on' in credentials))
      throw new Error('federation calls need a CredentialSource, not bare TLS material');
    this.#dispatcher = credentials
      ? createMtlsAgent({
          credentials,
          expectedIdentity: (origin) => this.options.expectedIdentity?.(origin),
          ...(this.options.logger ? { logger: this.options.logger } : {}),
          ...(this.options.clock ? { clock: this.options.clock } : {}),
          ...(this.options.expiry ? { expiry: this.options.expiry } : {}),
          ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
          connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
        })
      : new Agent({
          keepAliveTimeout: 30_000,
          connect: { timeout: this.options.connectTimeoutMs ?? 10_000 },
        });
    return this.#dispatcher;
  }

  /** One call; every failure is `peer_call_failed` naming the peer and why (refusal, network, deadline). */
  async #call(
    peer: PeerAddress,
    token: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const total = this.options.totalTimeoutMs ?? 60_000;
    try {
      return await this.#exchange(peer, token, method, path, total, body);
    } catch (error) {
      if (error instanceof NodeError) throw error;
      const { name, message } = error as Error;
      const timedOut = name === 'TimeoutError';
      const { reason, code } = error as { reason?: unknown; code?: unknown };
      const why = timedOut ? `no complete answer within ${total} ms` : message;
      throw new NodeError(
        'peer_call_failed',
        `${peer.entityUri}: ${why}`,
        { peer: peer.entityUri, peer_error: String(timedOut ? name : (reason ?? code ?? name)).slice(0, 64) },
        { cause: error },
      );
    }
  }

  async #exchange(
    peer: PeerAddress,
    token: string,
    method: 'GET' | 'POST',
    path: string,
    total: number,
    body?: unknown,
  ): Promise<unknown> {
    const timeout = this.options.timeoutMs ?? 30_000;
    const deadline = AbortSignal.timeout(total);
    const now = () => this.options.clock?.().getTime() ?? Date.now();
    const sentMs = now();
    const response = await request(new URL(path, peer.federationUrl), {
      method,
      dispatcher: this.#agent(),
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: deadline,
    });
    const { date } = response.headers;
    this.options.onAnswerDate?.(peer.entityUri, typeof date === 'string' ? date : undefined, sentMs, now());
    const bytes = await readCapped(response.body, MAX_RESPONSE_BYTES, peer.entityUri);
    let parsed: unknown;
    try {
      // The same strict JSON as the node's own listeners: UTF-8, no duplicate keys, bounded depth.
      parsed = bytes.length === 0 ? null : parseStrictJson(decodeUtf8(bytes), `${peer.entityUri}'s answer`);
    } catch (error) {
      throw refused(peer, response.statusCode, 'bad_response', (error as Error).message);
    }
    if (response.statusCode >= 400) {
      const error = parsed as { error?: unknown; detail?: unknown } | null;
      const code = typeof error?.error === 'string' ? error.error : 'http_error';
      const detail = typeof error?.detail === 'string' ? error.detail : '(no detail)';
      throw refused(
        peer,
        response.statusCode,
        code,
        `${peer.entityUri} answered ${response.statusCode}: ${detail}`,
      );
    }
    return parsed;
  }
}

function feedQuery(feed: FeedRequest): URLSearchParams {
  return new URLSearchParams({ limit: String(feed.limit), ...(feed.cursor ? { cursor: feed.cursor } : {}) });
}

/** A peer's refusal: `peer_call_failed`, with the peer's own code and status for logs and metrics. */
function refused(peer: PeerAddress, status: number, peerCode: string, detail: string): NodeError {
  return new NodeError('peer_call_failed', detail, {
    peer: peer.entityUri,
    peer_status: status,
    peer_error: peerCode.slice(0, 64),
  });
}

async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy(): unknown },
  max: number,
  who: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new NodeError('peer_call_failed', `${who} sent more than ${max} bytes`, {
        peer: who,
        peer_error: 'response_too_large',
      });
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
