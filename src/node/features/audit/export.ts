// Exports the audit log as JSONL (one entry per line, wire names) for WORM storage. The file appears
// atomically: it is written to a 0600 temp file next to the target, fsynced, renamed over the target and
// the directory fsynced, so a reader never sees half an export.
//
// `since` picks a START, not a filter: the export runs from the first entry whose ts is at or after
// `since` to the end of the log, every entry in seq order, so the file is one unbroken piece of the chain
// even if the clock ever stepped back. Such a file starts mid-chain: verifying it takes its first entry's
// prev_hash as the anchor (verifyChain start 'first-entry'); that the piece links to the earlier log is
// shown by comparing this prev_hash with the hash of the entry before it (live log or an older export).
//
// The whole log is verified in the same pass. A broken chain aborts the export (nothing is written)
// unless `force` is set, for forensics: then the file is written and the result still says it is broken.
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDirectory } from '../../../pki/sync-dir.ts';
import type { AuditStore } from '../../../store/ports/audit.ts';
import { ChainVerifier, UnparsableEntry, type VerifyResult } from './chain.ts';
import { rfc3339ToMillisCeil } from './query.ts';
import { auditJsonLine, storeAuditEntries } from './sources.ts';

export interface ExportOptions {
  store: Pick<AuditStore, 'auditRange'>;
  out: string;
  /** RFC 3339 date-time: start at the first entry with ts at or after it. */
  since?: string;
  /** Write the file even when the chain does not verify. */
  force?: boolean;
  /** Called for each entry read (the CLI's progress line). */
  onEntry?: () => void;
}

export interface ExportResult {
  /** Whether the file was written (false: the chain is broken and force was not set). */
  written: boolean;
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Verification of the whole log as read from the store. */
  verify: VerifyResult;
}

const FLUSH_BYTES = 64 * 1024;

export async function exportAuditLog(options: ExportOptions): Promise<ExportResult> {
  const sinceMs = options.since === undefined ? null : rfc3339ToMillisCeil(options.since);
  if (options.since !== undefined && sinceMs === null)
    throw new TypeError(`since must be an RFC 3339 date-time (got "${options.since}")`);
  const temp = join(dirname(options.out), `.${basename(options.out)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' never follows or reuses an existing path; the mode holds from creation (chmod again for the umask).
  let handle: FileHandle | undefined = await open(temp, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    const verifier = new ChainVerifier();
    let started = sinceMs === null;
    let buffer = '';
    let count = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    for await (const entry of storeAuditEntries(options.store)) {
      options.onEntry?.();
      if (!verifier.push(entry) && !options.force) break;
      // A row the store could not read has nothing to export (and ends the reading).
      if (entry instanceof UnparsableEntry) continue;
      if (!started) started = Date.parse(entry.ts) >= (sinceMs as number);
      if (!started) continue;
      buffer += auditJsonLine(entry);
      count++;
      firstSeq ??= entry.seq;
      lastSeq = entry.seq;
      if (buffer.length >= FLUSH_BYTES) {
        await handle.write(buffer);
        buffer = '';
      }
    }
    const verify = verifier.finish();
    if (!verify.ok && !options.force) {
      await handle.close();
      handle = undefined;
      await rm(temp, { force: true });
      return { written: false, count: 0, firstSeq: null, lastSeq: null, verify };
    }
    if (buffer) await handle.write(buffer);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, options.out);
    await syncDirectory(dirname(options.out));
    return { written: true, count, firstSeq, lastSeq, verify };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}
