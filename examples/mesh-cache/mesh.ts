// A mesh cache node on the framed mTLS wire: a framed server that admits any node of the mesh's trust
// domain and applies the operations its peers send, and one outgoing framed connection per configured peer
// (redialled with backoff) over which local writes are replicated. Only the package's public entry points
// are used: tessera/tls and tessera/transport (here by their source index files, see README).
import {
  type CredentialSource,
  type Logger,
  type PeerIdentity,
  PeerRejectedError,
  uriPrefix,
} from '../../src/tls/index.ts';
import {
  createFramedClient,
  createFramedServer,
  type FramedClient,
  type FramedConnection,
  type FramedServer,
} from '../../src/transport/index.ts';
import { TtlCache } from './cache.ts';
import { decodeOp, encodeOp, type MeshOp } from './messages.ts';

export interface MeshNodeOptions {
  name: string;
  trustDomain: string;
  credentials: CredentialSource;
  /** Where each log event goes (main.ts prints JSON lines). */
  log: (event: Record<string, unknown>) => void;
  /** Where Tessera logs refusals and limits (default: its pino logger on stdout). */
  logger?: Logger;
  now?: () => number;
  /** Largest frame accepted or sent; default 1 MiB. */
  maxFrameBytes?: number;
}

export interface PeerAddress {
  name: string;
  host: string;
  port: number;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;

/** The SPIFFE ID of a mesh node, as `tessera pki dev` issues it. */
export function nodeUri(trustDomain: string, name: string): string {
  return `spiffe://${trustDomain}/node/${name}`;
}

class PeerLink {
  connection: FramedConnection | null = null;
  #closed = false;
  #backoff = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly address: PeerAddress,
    private readonly client: FramedClient,
    private readonly trustDomain: string,
    private readonly log: MeshNodeOptions['log'],
  ) {
    void this.#dial();
  }

  async #dial(): Promise<void> {
    if (this.#closed) return;
    const { name, host, port } = this.address;
    try {
      const connection = await this.client.connect({
        host,
        port,
        expectedUri: nodeUri(this.trustDomain, name),
      });
      if (this.#closed) {
        connection.destroy();
        return;
      }
      this.connection = connection;
      this.#backoff = BACKOFF_MIN_MS;
      this.log({ event: 'peer_up', peer: name });
      // Nothing is expected back on an outgoing link; reading it is what notices the peer going away.
      connection.on('frame', () => {});
      connection.once('close', (reason) => {
        this.connection = null;
        this.log({ event: 'peer_down', peer: name, reason });
        this.#retry();
      });
    } catch (error) {
      const reason =
        error instanceof PeerRejectedError
          ? error.reason
          : ((error as NodeJS.ErrnoException).code ?? 'error');
      this.log({ event: 'peer_unreachable', peer: name, reason });
      this.#retry();
    }
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#dial(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, BACKOFF_MAX_MS);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.connection?.destroy();
  }
}

export class MeshNode {
  readonly cache: TtlCache;
  readonly #options: MeshNodeOptions;
  readonly #server: FramedServer;
  readonly #client: FramedClient;
  readonly #peers = new Map<string, PeerLink>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MeshNodeOptions) {
    this.#options = options;
    this.cache = new TtlCache(options.now);
    const limits = {
      maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
      ...(options.logger ? { logger: options.logger } : {}),
    };
    this.#server = createFramedServer(
      {
        ...limits,
        credentials: options.credentials,
        // Any node of the mesh's trust domain; a certificate from another CA never gets this far.
        authorize: uriPrefix(`spiffe://${options.trustDomain}/node/`),
      },
      (peer, connection) => this.#accept(peer, connection),
    );
    this.#server.peerGate.on('rejected', (rejection) =>
      options.log({ event: 'peer_rejected', reason: rejection.reason, peer: rejection.peer ?? null }),
    );
    this.#server.on('limit', (event) =>
      options.log({ event: 'peer_limit', reason: event.reason, peer: event.peer ?? null }),
    );
    this.#client = createFramedClient({ ...limits, credentials: options.credentials });
    this.#sweeper = setInterval(() => this.cache.sweep(), 10_000).unref();
  }

  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return this.#server.listen(port, host);
  }

  /** Adds (or replaces) a peer to replicate to, and dials it. */
  addPeer(address: PeerAddress): void {
    this.#peers.get(address.name)?.close();
    this.#peers.set(
      address.name,
      new PeerLink(address, this.#client, this.#options.trustDomain, this.#options.log),
    );
  }

  /** Peer name → connected. */
  peers(): Record<string, boolean> {
    return Object.fromEntries([...this.#peers].map(([name, link]) => [name, link.connection !== null]));
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const now = (this.#options.now ?? Date.now)();
    const op: MeshOp = { op: 'put', key, value, expiresAt: ttlMs > 0 ? now + ttlMs : null };
    this.#apply(op);
    await this.#replicate(op);
  }

  get(key: string): string | undefined {
    return this.cache.get(key);
  }

  async delete(key: string): Promise<void> {
    const op: MeshOp = { op: 'delete', key };
    this.#apply(op);
    await this.#replicate(op);
  }

  async purge(prefix: string): Promise<number> {
    const op: MeshOp = { op: 'purge', prefix };
    const removed = this.#apply(op);
    await this.#replicate(op);
    return removed;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const link of this.#peers.values()) link.close();
    this.#client.close();
    await this.#server.close();
  }

  #accept(peer: PeerIdentity, connection: FramedConnection): void {
    const from = peer.uris[0] ?? peer.fingerprint256;
    this.#options.log({ event: 'peer_connected', peer: from });
    connection.on('frame', (frame) => {
      const decoded = decodeOp(frame);
      if (!decoded.ok) {
        // A peer that sends garbage is a broken or hostile peer: drop its connection, say why.
        this.#options.log({ event: 'op_refused', peer: from, reason: decoded.reason });
        connection.destroy();
        return;
      }
      this.#apply(decoded.op);
      this.#options.log({ event: 'applied', from, ...describe(decoded.op) });
    });
  }

  #apply(op: MeshOp): number {
    switch (op.op) {
      case 'put':
        this.cache.put(op.key, op.value, op.expiresAt);
        return 1;
      case 'delete':
        return this.cache.delete(op.key) ? 1 : 0;
      case 'purge':
        return this.cache.purge(op.prefix);
    }
  }

  /** Sends to every connected peer; a peer that is down misses it (a cache, not a log: no catch-up). */
  async #replicate(op: MeshOp): Promise<void> {
    const frame = encodeOp(op);
    const sends = [...this.#peers.values()].flatMap((link) =>
      link.connection ? [link.connection.send(frame).catch(() => undefined)] : [],
    );
    await Promise.all(sends);
  }
}

function describe(op: MeshOp): Record<string, unknown> {
  return op.op === 'purge' ? { op: op.op, prefix: op.prefix } : { op: op.op, key: op.key };
}
