// `tessera audit verify | export`: check the node's tamper-evident audit log, from its SQLite database
// (safe while the node runs: WAL) or offline from an exported JSONL file, and export it for WORM storage.
// Exit codes: 0 intact (or exported), 1 the chain is broken, 2 nothing could be checked (usage, unreadable
// database or file).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import type { OpenedState } from '../node/app/open-store.ts';
import {
  type ChainPoint,
  parseChainPoint,
  type VerifyResult,
  verifyChain,
} from '../node/features/audit/chain.ts';
import { rfc3339ToMillisCeil } from '../node/features/audit/query.ts';
import { jsonlAuditEntries, storeAuditEntries } from '../node/features/audit/sources.ts';
import type { Store } from '../store/store.ts';
import { formatCliError } from './error-output.ts';
import { openExistingState, STATE_SETTINGS, stateSettings } from './node-state.ts';
import { counted, type Progress, progress } from './progress.ts';
import { addSettingOptions } from './setting-options.ts';

/** A problem that prevents checking anything, explained for the operator (exit 2). */
class CannotCheck extends Error {}

interface VerifyFlags {
  dataDir?: string;
  file?: string;
  anchor?: string;
  json?: boolean;
}

interface ExportFlags {
  dataDir?: string;
  out: string;
  since?: string;
  force?: boolean;
  json?: boolean;
}

export function auditCommand(): Command {
  const audit = new Command('audit')
    .description("verify and export the node's tamper-evident audit log")
    .exitOverride();

  addSettingOptions(audit.command('verify'), STATE_SETTINGS)
    .description(
      'check the hash chain: names the first entry that was edited, deleted or reordered. A cut-off tail only shows against --anchor',
    )
    .option('--file <file.jsonl>', 'verify an exported JSONL file instead of the database (offline)')
    .option(
      '--anchor <seq:hash>',
      'a seq and hash recorded earlier (e.g. printed by a previous verify): the log must still contain it',
    )
    .option('--json', 'print JSON')
    .exitOverride()
    .action((flags: VerifyFlags, command: Command) =>
      guard(flags.json === true, async () => {
        if (flags.file && command.getOptionValueSource('dataDir') === 'cli')
          command.error('error: give either --data-dir or --file, not both', {
            exitCode: 2,
            code: 'tessera.usage',
          });
        const anchor =
          flags.anchor === undefined ? undefined : usage(command, () => parseChainPoint(flags.anchor!));
        const shown = progress('verifying the audit log');
        const { source, result } = await (flags.file
          ? verifyFile(resolve(flags.file), anchor, shown).then((r) => ({
              source: resolve(flags.file!),
              result: r,
            }))
          : withStore(flags, (store) =>
              verifyChain(counted(storeAuditEntries(store), shown), anchor ? { anchor } : {}),
            )
        ).finally(() => shown.done());
        process.stdout.write(flags.json ? json({ source, ...verdictJson(result) }) : verdictText(result));
        if (!result.ok) process.exitCode = 1;
      }),
    );

  addSettingOptions(audit.command('export'), STATE_SETTINGS)
    .description(
      'write the audit log as JSONL (one entry per line) atomically, mode 0600, for WORM storage; `audit verify --file` checks it offline',
    )
    .requiredOption('--out <file.jsonl>', 'the file to write (replaced atomically)')
    .option(
      '--since <rfc3339>',
      'start at the first entry at or after this time (the file then starts mid-chain; see audit verify)',
    )
    .option('--force', 'write the file even if the chain does not verify (forensics)')
    .option('--json', 'print JSON')
    .exitOverride()
    .action((flags: ExportFlags, command: Command) =>
      guard(flags.json === true, async () => {
        if (flags.since !== undefined && rfc3339ToMillisCeil(flags.since) === null)
          command.error(
            `error: --since must be an RFC 3339 date-time with offset, e.g. 2026-01-02T03:04:05Z (got "${flags.since}")`,
            { exitCode: 2, code: 'tessera.usage' },
          );
        const { exportAuditLog } = await import('../node/features/audit/export.ts');
        const out = resolve(flags.out);
        const shown = progress('exporting the audit log');
        const { result } = await withStore(flags, (store) =>
          exportAuditLog({
            store,
            out,
            ...(flags.since !== undefined ? { since: flags.since } : {}),
            force: flags.force === true,
            onEntry: () => shown.tick(),
          }),
        ).finally(() => shown.done());
        const { verify } = result;
        if (flags.json) {
          process.stdout.write(
            json({
              written: result.written,
              out,
              count: result.count,
              first_seq: result.firstSeq,
              last_seq: result.lastSeq,
              ...verdictJson(verify),
            }),
          );
        } else {
          if (result.written)
            process.stdout.write(
              result.count === 0
                ? `exported 0 entries to ${out}\n`
                : `exported ${result.count} entries (seq ${result.firstSeq}–${result.lastSeq}) to ${out}\n`,
            );
          process.stdout.write(
            verify.ok ? `audit log intact: ${verify.count} entries\n` : verdictText(verify),
          );
          if (!result.written)
            process.stdout.write('nothing exported (--force exports a broken log anyway)\n');
        }
        if (!verify.ok) process.exitCode = 1;
      }),
    );

  return audit;
}

/** Runs an action; anything that prevents a verdict is `tessera: <message>` and exit 2 (1 means broken). */
async function guard(json: boolean, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof CommanderError) throw error;
    process.stderr.write(formatCliError(error, json));
    process.exitCode = 2;
  }
}

function usage<T>(command: Command, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    return command.error(`error: --anchor: ${(error as Error).message}`, {
      exitCode: 2,
      code: 'tessera.usage',
    });
  }
}

const errno = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** Runs `use` on the node's state (as `tessera serve` opens it); any failure to open it is exit 2. */
async function withStore<T>(
  flags: object,
  use: (store: Store) => Promise<T>,
): Promise<{ source: string; result: T }> {
  let state: OpenedState;
  const settings = stateSettings(flags); // a ConfigError keeps its code (CONFIG_INVALID) for --json
  try {
    state = await openExistingState(settings);
  } catch (error) {
    throw new CannotCheck((error as Error).message);
  }
  try {
    return { source: state.where, result: await use(state.store) };
  } finally {
    await state.close();
  }
}

async function verifyFile(
  file: string,
  anchor: ChainPoint | undefined,
  shown: Progress,
): Promise<VerifyResult> {
  // The file is opened before verification starts so an unreadable file is exit 2, not a broken log.
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
  } catch (error) {
    throw new CannotCheck(`cannot read ${file} (${errno(error)})`);
  }
  return verifyChain(counted(jsonlAuditEntries(file), shown), {
    start: 'first-entry',
    ...(anchor ? { anchor } : {}),
  });
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function verdictJson(result: VerifyResult): Record<string, unknown> {
  return result.ok
    ? {
        ok: true,
        count: result.count,
        start: result.start,
        last_seq: result.lastSeq,
        last_hash: result.lastHash,
      }
    : {
        ok: false,
        first_bad_seq: result.firstBadSeq,
        reason: result.reason,
        detail: result.detail,
        verified_count: result.count,
      };
}

function verdictText(result: VerifyResult): string {
  if (!result.ok)
    return `audit log BROKEN at seq ${result.firstBadSeq}: ${result.reason}\n  ${result.detail}\n  ${result.count} entries verified before it\n`;
  const lines = [
    `audit log intact: ${result.count} entries, last hash ${result.lastHash} (seq ${result.lastSeq})`,
  ];
  if (result.start.seq > 0)
    lines.push(
      `  starts mid-chain at seq ${result.start.seq + 1}, after seq ${result.start.seq} with hash ${result.start.hash}` +
        ' (taken from the file: compare it with that entry of the live log or an earlier export)',
    );
  lines.push(`  anchor for later checks: --anchor ${result.lastSeq}:${result.lastHash}`);
  return `${lines.join('\n')}\n`;
}
