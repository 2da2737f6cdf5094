// The store's one long-lived session: a pooled client kept checked out for what lives as long as a
// connection, not a statement: named leases (session advisory locks) and LISTEN for the store's channels.
// When the connection fails, the server releases its locks, so the leases taken on it are lost too: the
// next lease() connects anew; subscriptions reconnect by themselves (a notification sent meanwhile is lost).
import type { Pool, PoolClient } from 'pg';
import { StoreError } from '../errors.ts';
import type { Lease } from '../store.ts';
import { fnv1a, leaseLock } from './locks.ts';

const ignore = (): void => undefined;
const CHANNEL = /^[a-z_]{1,32}$/;
const RELISTEN_MS = 1000;

interface Subscriber {
  listener: (payload: string) => void;
  missed: (() => void) | undefined;
}

/** The server's name of channel `name` of the store in `schema` (stores in other schemas never hear it). */
function serverChannel(schema: string, name: string): string {
  if (!CHANNEL.test(name))
    throw new TypeError(`a channel name is 1-32 of a-z and _ (got ${JSON.stringify(name)})`);
  return `tessera_${(fnv1a(`tessera:${schema}`) >>> 0).toString(16)}_${name}`;
}

export class PgSession {
  readonly #pool: Pool;
  readonly #schema: string;
  #client: Promise<PoolClient> | undefined;
  /** Leases held through this session (a session lock is reentrant: the process must refuse a second). */
  readonly #held = new Set<string>();
  #closed = false;
  /** Ends a session client once (an error, the server closing it, close()). */
  readonly #drop = new WeakMap<PoolClient, () => void>();
  /** Listeners by server channel name. */
  readonly #listeners = new Map<string, Set<Subscriber>>();
  /** The connection was lost (or LISTEN failed) since the channels were last listened to. */
  #gap = false;
  #relisten: NodeJS.Timeout | undefined;

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
  }

  /** The session's client, connected on first use and again after it failed. */
  #connect(): Promise<PoolClient> {
    if (this.#closed)
      throw new StoreError('store_closed', `the PostgreSQL store (schema ${this.#schema}) is closed`);
    if (this.#client) return this.#client;
    const connecting = this.#pool.connect().then((client) => {
      let dropped = false;
      const lost = () => {
        if (dropped) return;
        dropped = true;
        if (this.#client === connecting) {
          this.#client = undefined;
          // The server released every lock of that session.
          this.#held.clear();
        }
        client.release(true);
        this.#scheduleRelisten();
      };
      this.#drop.set(client, lost);
      client.on('error', lost);
      client.on('end', lost);
      client.on('notification', (message) => this.#dispatch(message.channel, message.payload ?? ''));
      return client;
    });
    this.#client = connecting;
    connecting.catch(() => {
      if (this.#client === connecting) this.#client = undefined;
    });
    return connecting;
  }

  async lease(name: string): Promise<Lease | null> {
    if (this.#held.has(name)) return null;
    this.#held.add(name);
    let client: PoolClient;
    let granted = false;
    try {
      client = await this.#connect();
      const { rows } = await client.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_lock(${leaseLock(this.#schema, name)}) AS ok`,
      );
      granted = rows[0]?.ok === true;
    } finally {
      if (!granted) this.#held.delete(name);
    }
    if (!granted) return null;
    const session = this.#client;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        // Lost with its connection already (and maybe taken since by this process again): nothing to undo.
        if (this.#client !== session || !this.#held.has(name)) return;
        this.#held.delete(name);
        await client
          .query(`SELECT pg_advisory_unlock(${leaseLock(this.#schema, name)})`)
          .then(ignore, ignore);
      },
    };
  }

  /**
   * Calls listener with the payload of every notify(channel) of any replica, this one included; `missed`
   * once listening again after a lost connection (notifications may have been sent meanwhile).
   */
  subscribe(channel: string, listener: (payload: string) => void, missed?: () => void): () => void {
    const name = serverChannel(this.#schema, channel);
    const subscriber: Subscriber = { listener, missed };
    let listeners = this.#listeners.get(name);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(name, listeners);
      void this.#listen([name]);
    }
    listeners.add(subscriber);
    return () => {
      if (!listeners.delete(subscriber) || listeners.size > 0) return;
      this.#listeners.delete(name);
      if (this.#closed || !this.#client) return;
      void this.#client.then((client) => client.query(`UNLISTEN "${name}"`)).catch(ignore);
    };
  }

  /** Sends payload (at most 7999 bytes) to the subscribers of channel on every replica, once committed. */
  async notify(channel: string, payload: string): Promise<void> {
    await this.#pool.query('SELECT pg_notify($1, $2)', [serverChannel(this.#schema, channel), payload]);
  }

  async #listen(names: string[]): Promise<void> {
    if (this.#closed || names.length === 0) return;
    try {
      const client = await this.#connect();
      await client.query(names.map((name) => `LISTEN "${name}"`).join('; '));
    } catch {
      this.#scheduleRelisten();
      return;
    }
    if (!this.#gap) return;
    this.#gap = false;
    for (const subscribers of this.#listeners.values())
      for (const { missed } of subscribers) {
        try {
          missed?.();
        } catch {
          // Its own failure.
        }
      }
  }

  /** After a lost connection: connect again and LISTEN to every channel someone still listens to. */
  #scheduleRelisten(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    this.#gap = true;
    if (this.#relisten) return;
    this.#relisten = setTimeout(() => {
      this.#relisten = undefined;
      void this.#listen([...this.#listeners.keys()]);
    }, RELISTEN_MS);
    this.#relisten.unref();
  }

  #dispatch(name: string, payload: string): void {
    for (const { listener } of this.#listeners.get(name) ?? []) {
      try {
        listener(payload);
      } catch {
        // A listener's failure is its own; the others still hear the notification.
      }
    }
  }

  /** Ends the session (its leases end with it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#relisten);
    this.#listeners.clear();
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    this.#held.clear();
    if (!client) return;
    // Released now, not when the server gets round to ending the backend: another replica takes over at once.
    await client.query('SELECT pg_advisory_unlock_all()').catch(ignore);
    this.#drop.get(client)?.();
  }
}
