// The gRPC adapter of the peer transport: a subscription to a peer's feed as a server stream
// (federation.proto), on a channel whose every connection presents our current certificate and checks that
// the peer proves its entity URI (Tessera's channel credentials) before a byte is sent. It moves bytes
// only: the pages it yields are checked by the puller exactly as HTTPS pages are. A stream on which
// nothing arrives (no page, no heartbeat) for the stall timeout is cut; messages are capped in size.
import {
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  connectivityState,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import type { Clock } from '../../../../tls/clock.ts';
import type { CredentialSource } from '../../../../tls/credential-source.ts';
import type { ExpiryMonitor } from '../../../../tls/expiry.ts';
import type { PeerIdentity } from '../../../../tls/identity.ts';
import type { Logger } from '../../../../tls/logger.ts';
import type { TlsMetrics } from '../../../../tls/metrics.ts';
import {
  createMtlsChannelCredentials,
  type MtlsChannelCredentials,
} from '../../../../transport/grpc/channel-credentials.ts';
import { NodeError } from '../../../errors.ts';
import { decodeUtf8, parseStrictJson } from '../../../strict-json.ts';
import type {
  FeedRequest,
  FeedSubscription,
  ManifestResponse,
  PeerAddress,
  PeerTransport,
} from '../peer-transport.ts';
import { type FeedPageMessage, federationClientConstructor, type SubscribeRequestMessage } from './proto.ts';

/** A feed page is at most 500 facts of at most 64 KiB each (the HTTPS transport's bound too). */
export const MAX_FEED_MESSAGE_BYTES = 40 * 1024 * 1024;
/** What we send a peer is a cursor and a limit. */
const MAX_REQUEST_BYTES = 64 * 1024;

export interface GrpcPeerTransportOptions {
  credentials: CredentialSource;
  /** The peer's gRPC endpoint (`host:port`) as its signed manifest advertises it; undefined = none. */
  endpointOf(peer: PeerAddress): string | undefined;
  logger?: Logger;
  clock?: Clock;
  expiry?: ExpiryMonitor;
  /** Where refused peer certificates are counted. */
  metrics?: TlsMetrics;
  /** TCP connect and TLS handshake of a new connection; default 10 s. */
  connectTimeoutMs?: number;
  /** Nothing (no page, no heartbeat) on a stream for this long: it is cut. Default 30 s. */
  stallTimeoutMs?: number;
  /** Unary calls (manifest, wake): total deadline; default 60 s. */
  callTimeoutMs?: number;
  /** More channel options (tests: reconnect backoff). */
  channel?: ChannelOptions;
}

type FederationGrpcClient = Client & {
  Subscribe(request: SubscribeRequestMessage, metadata: Metadata): ClientReadableStream<FeedPageMessage>;
  Manifest(
    request: object,
    metadata: Metadata,
    options: { deadline: number },
    callback: (error: ServiceError | null, reply?: { manifest_json: Buffer }) => void,
  ): void;
  Wake(
    request: object,
    metadata: Metadata,
    options: { deadline: number },
    callback: (error: ServiceError | null) => void,
  ): void;
};

interface PeerChannel {
  client: FederationGrpcClient;
  credentials: MtlsChannelCredentials;
  /** The last refusal of the peer's certificate on this channel, to name in the failure. */
  lastRejection: string | undefined;
}

export class GrpcPeerTransport implements PeerTransport {
  readonly #channels = new Map<string, PeerChannel>();
  readonly #subscriptions = new Set<FeedSubscription>();

  constructor(private readonly options: GrpcPeerTransportOptions) {}

  /** Fetches the manifest over the Manifest call, on a fresh channel (federationUrl: `grpc://host:port`). */
  async fetchManifest(federationUrl: string): Promise<ManifestResponse> {
    const endpoint = federationUrl.replace(/^grpcs?:\/\//, '');
    let seen: PeerIdentity | null = null;
    const credentials = createMtlsChannelCredentials({
      credentials: this.options.credentials,
      // The binding (URI SAN, TLS key) is checked above the port against the manifest, as over HTTPS.
      authorize: (identity) => {
        seen = identity;
        return { allow: true };
      },
      ...this.#shared(),
    });
    const Ctor = federationClientConstructor();
    const client = new Ctor(endpoint, credentials, this.#channelOptions()) as unknown as FederationGrpcClient;
    try {
      const reply = await new Promise<{ manifest_json: Buffer }>((resolve, reject) =>
        client.Manifest({}, new Metadata(), { deadline: this.#deadline() }, (error, answer) =>
          error || !answer ? reject(error) : resolve(answer),
        ),
      );
      const body = parseStrictJson(decodeUtf8(reply.manifest_json), `${endpoint}'s manifest`);
      return { body, identity: seen, secure: true, origin: `grpc://${endpoint}` };
    } catch (error) {
      if (error instanceof NodeError) throw error;
      throw new NodeError('peer_unreachable', `${endpoint}: ${(error as Error).message}`);
    } finally {
      client.close();
      credentials.close();
    }
  }

  /** One page: a subscription read once and closed (the stream is what the puller uses). */
  async pullFacts(peer: PeerAddress, token: string, request: FeedRequest): Promise<unknown> {
    const subscription = await this.subscribeFacts(peer, token, request);
    if (!subscription) throw unavailable(peer, 'no_grpc_endpoint', 'the peer advertises no gRPC endpoint');
    try {
      for await (const page of subscription.pages()) return page;
      throw unavailable(peer, 'stream_ended', 'the stream ended before a page');
    } finally {
      subscription.close();
    }
  }

  pullRevocations(peer: PeerAddress): Promise<unknown> {
    return Promise.reject(
      new NodeError('peer_call_failed', `${peer.entityUri}: revocations are pulled over HTTPS`, {
        peer: peer.entityUri,
        peer_error: 'not_supported',
      }),
    );
  }

  async wake(peer: PeerAddress, token: string): Promise<void> {
    const channel = this.#channel(peer);
    if (!channel) throw unavailable(peer, 'no_grpc_endpoint', 'the peer advertises no gRPC endpoint');
    await new Promise<void>((resolve, reject) =>
      channel.client.Wake({}, bearer(token), { deadline: this.#deadline() }, (error) =>
        error ? reject(callFailed(peer, error, channel)) : resolve(),
      ),
    );
  }

  async subscribeFacts(
    peer: PeerAddress,
    token: string,
    request: FeedRequest,
  ): Promise<FeedSubscription | null> {
    const channel = this.#channel(peer);
    if (!channel) return null;
    await this.#ready(peer, channel);
    const call = channel.client.Subscribe(
      { cursor: request.cursor ?? '', limit: request.limit },
      bearer(token),
    );
    const stallMs = this.options.stallTimeoutMs ?? 30_000;
    let closed = false;
    const subscriptions = this.#subscriptions;
    const subscription: FeedSubscription = {
      close() {
        if (closed) return;
        closed = true;
        subscriptions.delete(subscription);
        call.cancel();
      },
      async *pages() {
        const iterator = call[Symbol.asyncIterator]() as AsyncIterator<FeedPageMessage>;
        for (;;) {
          let timer: NodeJS.Timeout | undefined;
          // Settled on its own (never an unhandled rejection when the stall timer wins and the call is cancelled).
          const message = iterator.next().catch((error: ServiceError) => {
            if (closed) return { done: true as const, value: undefined };
            throw callFailed(peer, error, channel);
          });
          message.catch(() => undefined);
          const next = await Promise.race([
            message,
            new Promise<'stalled'>((resolve) => {
              timer = setTimeout(() => resolve('stalled'), stallMs);
            }),
          ]).finally(() => clearTimeout(timer));
          if (next === 'stalled') {
            subscription.close();
            throw new NodeError(
              'peer_call_failed',
              `${peer.entityUri}: nothing arrived on the stream for ${stallMs} ms`,
              {
                peer: peer.entityUri,
                peer_error: 'stream_idle',
              },
            );
          }
          if (next.done) {
            if (closed) return;
            throw new NodeError('peer_call_failed', `${peer.entityUri} ended the stream`, {
              peer: peer.entityUri,
              peer_error: 'stream_ended',
            });
          }
          if (next.value.heartbeat) continue;
          yield toPage(peer, next.value);
        }
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    for (const subscription of this.#subscriptions) subscription.close();
    for (const channel of this.#channels.values()) {
      channel.client.close();
      channel.credentials.close();
    }
    this.#channels.clear();
  }

  /** The channel to this peer's advertised endpoint (made on first use, replaced when the endpoint moves). */
  #channel(peer: PeerAddress): PeerChannel | null {
    const endpoint = this.options.endpointOf(peer);
    if (!endpoint) return null;
    const key = `${peer.entityUri} ${endpoint}`;
    const existing = this.#channels.get(key);
    if (existing) return existing;
    for (const [other, channel] of this.#channels)
      if (other.startsWith(`${peer.entityUri} `)) {
        channel.client.close();
        channel.credentials.close();
        this.#channels.delete(other);
      }
    const made: PeerChannel = { lastRejection: undefined } as PeerChannel;
    made.credentials = createMtlsChannelCredentials({
      credentials: this.options.credentials,
      expectedUri: peer.entityUri,
      ...this.#shared(),
      onRejected: (rejection) => {
        made.lastRejection = rejection.reason;
      },
    });
    const Ctor = federationClientConstructor();
    made.client = new Ctor(
      endpoint,
      made.credentials,
      this.#channelOptions(),
    ) as unknown as FederationGrpcClient;
    this.#channels.set(key, made);
    return made;
  }

  /**
   * Waits until the channel is connected, within the connect timeout (grpc-js reconnects on its own
   * meanwhile, so a peer that is restarting is found); fails at once when we refused the peer's
   * certificate (that does not heal by waiting): the caller falls back to HTTPS.
   */
  async #ready(peer: PeerAddress, channel: PeerChannel): Promise<void> {
    const grpcChannel = channel.client.getChannel();
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 10_000);
    channel.lastRejection = undefined;
    for (;;) {
      const state = grpcChannel.getConnectivityState(true);
      if (state === connectivityState.READY) return;
      if (channel.lastRejection || state === connectivityState.SHUTDOWN) {
        const reason = channel.lastRejection ?? 'unavailable';
        throw unavailable(peer, reason, `cannot connect over gRPC (${reason})`);
      }
      const changed = await new Promise<boolean>((resolve) =>
        grpcChannel.watchConnectivityState(state, deadline, (error) => resolve(!error)),
      );
      if (!changed)
        throw unavailable(peer, 'connect_timeout', 'no gRPC connection within the connect timeout');
    }
  }

  #deadline(): number {
    return Date.now() + (this.options.callTimeoutMs ?? 60_000);
  }

  #shared() {
    return {
      ...(this.options.logger ? { logger: this.options.logger } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...(this.options.expiry ? { expiry: this.options.expiry } : {}),
      ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
    };
  }

  #channelOptions(): ChannelOptions {
    return {
      'grpc.max_receive_message_length': MAX_FEED_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_REQUEST_BYTES,
      // A connection that dies silently (a killed peer behind NAT) is noticed by pings, not only by the stall timer.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.enable_retries': 0,
      // A restarted peer is found again within seconds (each try is one TCP connect and handshake).
      'grpc.initial_reconnect_backoff_ms': 1000,
      'grpc.max_reconnect_backoff_ms': 5000,
      ...this.options.channel,
    };
  }
}

function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** A gRPC page → the HTTPS feed's JSON shape; a fact that is not strict JSON refuses the page. */
function toPage(peer: PeerAddress, message: FeedPageMessage): unknown {
  try {
    return {
      facts: message.facts.map((bytes) => parseStrictJson(decodeUtf8(bytes), `${peer.entityUri}'s fact`)),
      cursor: message.cursor,
      more: message.more,
      remaining: message.remaining,
    };
  } catch (error) {
    throw new NodeError('peer_call_failed', (error as Error).message, {
      peer: peer.entityUri,
      peer_error: 'bad_response',
    });
  }
}

function unavailable(peer: PeerAddress, reason: string, detail: string): NodeError {
  return new NodeError('peer_call_failed', `${peer.entityUri}: ${detail}`, {
    peer: peer.entityUri,
    peer_error: `grpc_unavailable:${reason}`.slice(0, 64),
  });
}

/** A failed call: the peer's own error code when it sent one (`peer_not_approved: …`), else the status. */
function callFailed(peer: PeerAddress, error: ServiceError, channel: PeerChannel): NodeError {
  if (error.code === status.UNAVAILABLE)
    return unavailable(peer, channel.lastRejection ?? 'unavailable', error.details || error.message);
  if (error.code === status.RESOURCE_EXHAUSTED && /message larger than max/i.test(error.details))
    return new NodeError('peer_call_failed', `${peer.entityUri}: ${error.details}`, {
      peer: peer.entityUri,
      peer_error: 'response_too_large',
    });
  const peerCode = /^([a-z_]+): /.exec(error.details ?? '')?.[1];
  return new NodeError(
    'peer_call_failed',
    `${peer.entityUri} answered ${status[error.code]}: ${error.details}`,
    {
      peer: peer.entityUri,
      peer_status: error.code,
      peer_error: (peerCode ?? status[error.code] ?? 'grpc_error').slice(0, 64),
    },
  );
}
