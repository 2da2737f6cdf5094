// The store's one long-lived session: a pooled client kept checked out for what lives as long as a
// connection, not a statement: named leases (session advisory locks). When the connection fails, the
// server releases its locks, so the leases taken on it are lost too: the next lease() connects anew.
import type { Pool, PoolClient } from 'pg';
import { StoreError } from '../errors.ts';
import type { Lease } from '../store.ts';
import { leaseLock } from './locks.ts';

const ignore = (): void => undefined;

export class PgSession {
  readonly #pool: Pool;
  readonly #schema: string;
  #client: Promise<PoolClient> | undefined;
  /** Leases held through this session (a session lock is reentrant: the process must refuse a second). */
  readonly #held = new Set<string>();
  #closed = false;
  /** Ends a session client once (an error, the server closing it, close()). */
  readonly #drop = new WeakMap<PoolClient, () => void>();

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
      };
      this.#drop.set(client, lost);
      client.on('error', lost);
      client.on('end', lost);
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

  /** Ends the session (its leases end with it). */
  async close(): Promise<void> {
    this.#closed = true;
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    this.#held.clear();
    if (client) this.#drop.get(client)?.();
  }
}
