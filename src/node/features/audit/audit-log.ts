// Records audit entries: scrubs the detail (scrub.ts: no secret is ever written), stamps it with the clock
// and lets the store append it to the hash chain atomically (the builder sees the last seq and hash under
// the store's write lock, so concurrent records still form one chain).
//
// A failed write is never silent: it is logged as an error and counted in
// tessera_audit_write_failures_total{event_type}. Then the caller chooses:
// - record(): rejects with AuditWriteError. For actions that must not happen unaudited (API key created,
//   peer approved, key rotated): fail the request, or pass `{tx}` to write the entry in the same
//   transaction as the action so both commit or neither.
// - note(): resolves to null instead. For events reported while refusing something (auth_failed,
//   tls_peer_rejected, quota_breach), where an audit outage must not turn a 401/429 into a 500.
import type { AuditEntry, AuditStore } from '../../../store/ports/audit.ts';
import type { Clock } from '../../../tls/clock.ts';
import { defaultLogger, type Logger } from '../../../tls/logger.ts';
import { NodeError } from '../../errors.ts';
import { buildAuditEntry } from './chain.ts';
import { type AuditEventType, isAuditEventType } from './event-types.ts';
import { scrubDetail, scrubString } from './scrub.ts';

export { AUDIT_EVENT_TYPES, type AuditEventType } from './event-types.ts';

export class AuditWriteError extends NodeError {
  override readonly name = 'AuditWriteError';
  constructor(
    readonly eventType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('audit_write_failed', message, {}, options);
  }
}

export interface AuditLogOptions {
  /** Where entries go: the node's Store, or a transaction of it. */
  store: AuditStore;
  clock: Clock;
  logger?: Logger;
  /** Counts an entry that could not be written (tessera_audit_write_failures_total). */
  onWriteFailure?(eventType: string): void;
}

export interface RecordOptions {
  /** Write inside this transaction instead of on its own (commits or rolls back with the caller's work). */
  tx?: AuditStore;
}

export class AuditLog {
  readonly #store: AuditStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onWriteFailure: ((eventType: string) => void) | undefined;

  constructor(options: AuditLogOptions) {
    this.#onWriteFailure = options.onWriteFailure;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger ?? defaultLogger();
  }

  /** Appends one entry and returns it as stored; rejects with AuditWriteError (logged, counted) on failure. */
  async record(
    eventType: AuditEventType,
    principal: string | null,
    detail: Record<string, unknown> = {},
    options: RecordOptions = {},
  ): Promise<AuditEntry> {
    try {
      if (!isAuditEventType(eventType)) throw new TypeError(`unknown audit event type ${String(eventType)}`);
      const fields = {
        ts: this.#clock().toISOString(),
        event_type: eventType,
        principal: principal ? scrubString(principal) : null,
        detail: scrubDetail(detail),
      };
      const store = options.tx ?? this.#store;
      return await store.appendAudit((last) => buildAuditEntry(last, fields));
    } catch (error) {
      const label = isAuditEventType(eventType) ? eventType : 'unknown';
      this.#onWriteFailure?.(label);
      const reason = error instanceof Error ? error.message : String(error);
      // The detail is not logged: it may be large, and the failure is about the write, not the content.
      this.#logger.error(
        { event: 'audit_write_failed', event_type: label, principal, reason },
        `audit entry ${label} could not be written: ${reason}`,
      );
      throw new AuditWriteError(label, `audit entry ${label} could not be written: ${reason}`, {
        cause: error,
      });
    }
  }

  /** Like record(), but resolves to null when the entry could not be written (still logged and counted). */
  async note(
    eventType: AuditEventType,
    principal: string | null,
    detail: Record<string, unknown> = {},
    options: RecordOptions = {},
  ): Promise<AuditEntry | null> {
    try {
      return await this.record(eventType, principal, detail, options);
    } catch {
      return null;
    }
  }
}
