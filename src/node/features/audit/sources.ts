// Where audit entries are read from for verification and export: the node's store, page by page in seq
// order, or an exported JSONL file, line by line. Neither loads the whole log into memory.
import { open } from 'node:fs/promises';
import type { AuditEntry, AuditStore } from '../../../store/ports/audit.ts';
import { UnparsableEntry } from './chain.ts';

export const AUDIT_PAGE_SIZE = 1000;

/**
 * Every entry of the store with seq > afterSeq, in seq order. A row the store cannot even return (an
 * edited `detail` that is no longer JSON makes it throw) is narrowed down one row at a time and yielded
 * as an UnparsableEntry, so verification names the entry after the last readable one instead of failing
 * as a whole. Errors that do not come from a bad row (a closed store) still reject.
 */
export async function* storeAuditEntries(
  store: Pick<AuditStore, 'auditRange'>,
  afterSeq = 0,
  pageSize = AUDIT_PAGE_SIZE,
): AsyncGenerator<AuditEntry | UnparsableEntry> {
  let after = afterSeq;
  let size = pageSize;
  for (;;) {
    let page: AuditEntry[];
    try {
      page = await store.auditRange(after, size);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      if (size > 1) {
        size = 1;
        continue;
      }
      yield new UnparsableEntry(`the row after seq ${after} cannot be read (${error.message})`);
      return;
    }
    for (const entry of page) yield entry;
    const last = page[page.length - 1];
    // A page that does not move forward would repeat forever: stop, the verifier has seen it.
    if (page.length < size || !last || !(last.seq > after)) return;
    after = last.seq;
  }
}

/**
 * The entries of a JSONL export: one JSON value per line, blank lines skipped. A line that is not JSON is
 * yielded as an UnparsableEntry naming its line number, so verification reports it as `malformed`.
 */
export async function* jsonlAuditEntries(file: string): AsyncGenerator<unknown> {
  // Opened first so that a missing or unreadable file rejects here, with its errno code.
  const handle = await open(file, 'r');
  try {
    let lineNo = 0;
    for await (const line of handle.readLines({ encoding: 'utf8' })) {
      lineNo++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = new UnparsableEntry(`line ${lineNo} is not valid JSON`);
      }
      yield value;
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** One exported line: the wire names, in the entry's field order. */
export function auditJsonLine(entry: AuditEntry): string {
  const { seq, ts, event_type, principal, detail, prev_hash, hash } = entry;
  return `${JSON.stringify({ seq, ts, event_type, principal, detail, prev_hash, hash })}\n`;
}
