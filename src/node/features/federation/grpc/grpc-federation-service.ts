// The federation service a gRPC listener serves (grpc/assets/federation.proto): the signed manifest, and
// replication as a server stream. A subscriber gets the pages of its feed after its stored cursor (the
// same pages, facts and cursors as the HTTPS feed), then a page whenever facts commit here: no polling.
// Flow control: a stream holds at most `sendBufferPages` pages written but not yet taken by the connection,
// and never writes while grpc-js says it is not writable; a peer that stops reading makes this sender wait
// (HTTP/2 flow control fills up), and one that stays stalled for `stallTimeoutMs` is cut and counted.
import {
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type StatusObject,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PeerRecord } from '../../../../store/ports/peers.ts';
import type { Logger } from '../../../../tls/logger.ts';
import { grpcPeer } from '../../../../transport/grpc/peer.ts';
import type { NodeEvents } from '../../../app/events.ts';
import { ERROR_CATALOG, isErrorCode, NodeError } from '../../../errors.ts';
import type { NodeMetrics } from '../../../metrics.ts';
import type { SignedManifest } from '../../identity/manifest.ts';
import type { PeerDirectory } from '../../peers/peer-directory.ts';
import type { PeerAuthenticator } from '../authenticate.ts';
import { type FeedSource, readFeedPage } from '../feed.ts';
import { FEED_PAGE_SIZE } from '../puller.ts';
import type { FeedPageMessage, SubscribeRequestMessage } from './proto.ts';

/** Longest cursor a subscriber may send (the HTTPS feed's bound). */
const MAX_CURSOR_LENGTH = 200;

export interface GrpcFederationServiceOptions {
  auth: Pick<PeerAuthenticator, 'authenticateCall'>;
  feed: FeedSource;
  peers: PeerDirectory;
  /** `fact_written` / `facts_ingested` wake the streams; `peer_revoked` ends the peer's streams. */
  events: NodeEvents;
  manifest(): SignedManifest;
  onWake(peerId: string): void;
  /** Charges one federation pull to the peer's quota (once per subscription); throws the NodeError. */
  takeQuota?(peerEntityUri: string): Promise<void>;
  sendBufferPages: number;
  stallTimeoutMs: number;
  metrics: NodeMetrics;
  logger: Logger;
}

export interface GrpcFederationService {
  handlers: UntypedServiceImplementation;
  /** Streams open now (for tests and the status page). */
  readonly openStreams: number;
  /** Ends every stream (UNAVAILABLE, the node is shutting down): subscribers resume elsewhere or later. */
  close(): void;
  /**
   * How the listener drops a connection (by the call's peer address). A stalled stream cannot carry its
   * status (it would queue behind the unsent pages), so its connection is closed.
   */
  setConnectionCutter(cut: (remote: string) => void): void;
}

type SubscribeCall = ServerWritableStream<SubscribeRequestMessage, FeedPageMessage>;

/** A NodeError as a gRPC status, with the catalog's status and `<code>: <detail>` as details. */
function statusOf(error: unknown): Partial<StatusObject> {
  if (error instanceof NodeError && isErrorCode(error.code))
    return { code: status[ERROR_CATALOG[error.code].grpc], details: `${error.code}: ${error.message}` };
  return { code: status.INTERNAL, details: 'internal: an unexpected error; the node log has the details' };
}

function authorization(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * grpc-js's peer string → the address alone. grpc-js writes `${address}:${port}` without brackets, so an
 * IPv6 or IPv4-mapped address (`::ffff:10.0.0.5:5555`) ends at the last colon; an `ipv4:`/`ipv6:` prefix or
 * `[v6]:port` form is accepted too.
 */
export function addressOfGrpcPeer(peer: string): string | undefined {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (bracketed) return bracketed[1];
  const colon = bare.lastIndexOf(':');
  if (colon <= 0 || !/^\d+$/.test(bare.slice(colon + 1))) return undefined;
  return bare.slice(0, colon);
}

export function createGrpcFederationService(options: GrpcFederationServiceOptions): GrpcFederationService {
  const streams = new Set<SubscriptionStream>();
  const bySubscriber = new Map<string, SubscriptionStream>();
  const cutter = { cut: (_remote: string) => {} };
  const authenticate = (call: SubscribeCall | ServerUnaryCall<unknown, unknown>) =>
    options.auth.authenticateCall({
      authorization: authorization(call.metadata),
      peerUris: grpcPeer(call)?.uris ?? [],
      clientIp: addressOfGrpcPeer(call.getPeer()),
    });
  const handlers: UntypedServiceImplementation = {
    Manifest(_call: ServerUnaryCall<unknown, unknown>, reply: sendUnaryData<unknown>) {
      reply(null, { manifest_json: Buffer.from(JSON.stringify(options.manifest())) });
    },
    Wake(call: ServerUnaryCall<unknown, unknown>, reply: sendUnaryData<unknown>) {
      authenticate(call).then(
        (peer) => {
          options.onWake(peer.id);
          reply(null, {});
        },
        (error) => reply(statusOf(error)),
      );
    },
    Subscribe(call: SubscribeCall) {
      void (async () => {
        let peer: PeerRecord;
        let request: { cursor: string | undefined; limit: number };
        try {
          peer = await authenticate(call);
          request = checkRequest(call.request);
          await options.takeQuota?.(peer.entityUri);
        } catch (error) {
          call.emit('error', statusOf(error));
          return;
        }
        // Gone while it was being authenticated: nothing to serve (its writes would never complete).
        if (call.cancelled) return;
        // One live subscription per peer: a new one (the peer reconnected, or is opening streams in a loop)
        // ends the older, so a peer cannot multiply the feed reads every commit triggers.
        bySubscriber
          .get(peer.id)
          ?.end('superseded', status.ABORTED, 'a newer subscription of this peer replaced this one');
        const stream = new SubscriptionStream(call, peer, request, options, cutter);
        streams.add(stream);
        bySubscriber.set(peer.id, stream);
        options.metrics.grpcStreams.inc({ role: 'sender' });
        try {
          await stream.run();
        } finally {
          streams.delete(stream);
          if (bySubscriber.get(peer.id) === stream) bySubscriber.delete(peer.id);
          options.metrics.grpcStreams.dec({ role: 'sender' });
        }
      })();
    },
  };
  return {
    handlers,
    get openStreams() {
      return streams.size;
    },
    close() {
      for (const stream of streams) stream.end('shutdown', status.UNAVAILABLE, 'the node is shutting down');
    },
    setConnectionCutter(cut) {
      cutter.cut = cut;
    },
  };
}

function checkRequest(request: SubscribeRequestMessage): { cursor: string | undefined; limit: number } {
  const limit = request.limit || FEED_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > FEED_PAGE_SIZE)
    throw new NodeError('validation_failed', `limit: must be 1 to ${FEED_PAGE_SIZE} (got ${request.limit})`);
  if (request.cursor.length > MAX_CURSOR_LENGTH)
    throw new NodeError('validation_failed', `cursor: must be at most ${MAX_CURSOR_LENGTH} characters`);
  return { cursor: request.cursor || undefined, limit };
}

/** One subscriber's stream: read a page, write it when there is room, wait for commits when drained. */
class SubscriptionStream {
  #cursor: string | undefined;
  /** Pages written whose write callback has not run yet (still in grpc-js / HTTP/2 buffers). */
  #buffered = 0;
  /** grpc-js answered a write with false: nothing more until 'drain'. */
  #needDrain = false;
  /** Facts may have committed since the last read (starts true: the catch-up). */
  #dirty = true;
  #ended = false;
  #sentFirst = false;
  #wakeUp: (() => void) | undefined;
  #heartbeatDue = false;

  constructor(
    private readonly call: SubscribeCall,
    private readonly peer: PeerRecord,
    private readonly request: { cursor: string | undefined; limit: number },
    private readonly options: GrpcFederationServiceOptions,
    private readonly cutter: { cut(remote: string): void },
  ) {
    this.#cursor = request.cursor;
  }

  /** Ends the stream with a status (the subscriber resumes from its stored cursor), counted by reason. */
  end(reason: string, code: status, details: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.options.metrics.grpcStreamEnds.inc({ role: 'sender', reason });
    if (reason !== 'cancelled') this.call.emit('error', { code, details: `${reason}: ${details}` });
    // Behind unsent pages the status would never leave: the peer's connection is closed instead.
    if (reason === 'stalled') this.cutter.cut(this.call.getPeer());
    this.#wakeUp?.();
  }

  async run(): Promise<void> {
    const { events, metrics } = this.options;
    const changed = () => {
      this.#dirty = true;
      this.#wakeUp?.();
    };
    const revoked = (peer: PeerRecord) => {
      if (peer.id === this.peer.id)
        this.end('peer_revoked', status.PERMISSION_DENIED, 'the peer was revoked');
    };
    const cancelled = () => this.end('cancelled', status.CANCELLED, 'the subscriber went away');
    const drained = () => {
      this.#needDrain = false;
      this.#wakeUp?.();
    };
    events.on('fact_written', changed);
    events.on('facts_ingested', changed);
    events.on('peer_revoked', revoked);
    this.call.on('cancelled', cancelled);
    this.call.on('drain', drained);
    // An idle stream says it is alive a few times per stall timeout, so the subscriber can tell a silent
    // sender from a dead connection; each tick also re-reads the feed (facts a replica of this node
    // committed elsewhere on a shared store reach this stream within a tick).
    const heartbeat = setInterval(
      () => {
        this.#heartbeatDue = true;
        this.#dirty = true;
        this.#wakeUp?.();
      },
      Math.max(250, Math.floor(this.options.stallTimeoutMs / 3)),
    );
    try {
      while (!this.#ended) {
        if (!this.#dirty) {
          await this.#waitFor(() => this.#dirty || this.#ended);
          continue;
        }
        this.#dirty = false;
        const page = await this.#readPage();
        if (!page || this.#ended) break;
        const changedCursor = page.cursor !== this.#cursor;
        if (page.facts.length > 0 || changedCursor || !this.#sentFirst) {
          if (!(await this.#write(pageMessage(page)))) break;
          this.#sentFirst = true;
          this.#heartbeatDue = false;
          this.#cursor = page.cursor;
        } else if (this.#heartbeatDue) {
          this.#heartbeatDue = false;
          const beat = { facts: [], cursor: this.#cursor ?? '', more: false, remaining: 0, heartbeat: true };
          if (!(await this.#write(beat))) break;
        }
        if (page.more) this.#dirty = true;
      }
    } catch (error) {
      this.options.logger.warn(
        {
          event: 'federation_grpc_stream_failed',
          peer: this.peer.entityUri,
          error: (error as Error).message,
        },
        'a gRPC replication stream failed',
      );
      this.end('error', status.UNAVAILABLE, 'the feed could not be read; resume later');
    } finally {
      clearInterval(heartbeat);
      events.off('fact_written', changed);
      events.off('facts_ingested', changed);
      events.off('peer_revoked', revoked);
      this.call.off('cancelled', cancelled);
      this.call.off('drain', drained);
      metrics.grpcSendBuffered.dec(this.#buffered);
      this.#buffered = 0;
      if (!this.#ended) {
        this.#ended = true;
        this.call.end();
      }
    }
  }

  /** The next page, re-checking the peer (a revocation or a scope change takes effect at the next page). */
  async #readPage() {
    const current = this.options.peers.get(this.peer.id);
    if (current?.status !== 'approved') {
      this.end('peer_revoked', status.PERMISSION_DENIED, `${this.peer.entityUri} is no longer approved`);
      return null;
    }
    return readFeedPage(this.options.feed, current, this.#cursor, this.request.limit);
  }

  /** Writes one message once there is room; false when the stream ended (or stalled) meanwhile. */
  async #write(message: FeedPageMessage): Promise<boolean> {
    const { sendBufferPages, stallTimeoutMs, metrics } = this.options;
    const room = () => this.#ended || (!this.#needDrain && this.#buffered < sendBufferPages);
    if (!room()) {
      const ready = await this.#waitFor(room, stallTimeoutMs);
      if (!ready) {
        this.end('stalled', status.DEADLINE_EXCEEDED, `the peer read nothing for ${stallTimeoutMs} ms`);
        return false;
      }
    }
    if (this.#ended) return false;
    this.#buffered++;
    metrics.grpcSendBuffered.inc();
    metrics.noteSendBuffered(this.#buffered);
    const writable = this.call.write(message, () => {
      if (this.#buffered === 0) return;
      this.#buffered--;
      metrics.grpcSendBuffered.dec();
      this.#wakeUp?.();
    });
    if (!writable) this.#needDrain = true;
    return true;
  }

  /** Resolves true when `ready()` holds, false at the timeout (if any); re-checked on every wake-up. */
  #waitFor(ready: () => boolean, timeoutMs?: number): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.#wakeUp = undefined;
        resolve(true);
      };
      if (timeoutMs !== undefined)
        timer = setTimeout(() => {
          this.#wakeUp = undefined;
          resolve(ready());
        }, timeoutMs);
      this.#wakeUp = check;
      check();
    });
  }
}

function pageMessage(page: {
  facts: unknown[];
  cursor: string;
  more: boolean;
  remaining?: number;
}): FeedPageMessage {
  return {
    facts: page.facts.map((fact) => Buffer.from(JSON.stringify(fact))),
    cursor: page.cursor,
    more: page.more,
    remaining: page.remaining ?? 0,
    heartbeat: false,
  };
}
