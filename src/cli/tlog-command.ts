// `tessera tlog verify [--data-dir DIR | --file FILE] [--anchor INDEX:HASH]`: checks the transparency log's
// hash chain and its rotation events, and names the first broken index. Exit 0 when intact, 1 otherwise.
// The last INDEX:HASH it prints is an anchor: kept elsewhere, it later shows a log cut off at its end.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { parseTlogAnchor, type TlogAnchor, tlogPath, verifyTlog } from '../node/features/rotation/tlog.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';

interface VerifyFlags {
  dataDir?: string;
  file?: string;
  anchor?: string;
  json?: boolean;
}

/** The node's log: --tl-local-path (TESSERA_TL_LOCAL_PATH), else in the data dir, as `tessera serve` reads them. */
function nodeTlog(flags: object): string {
  const { dataDir, tlLocalPath } = commandSettings(['dataDir', 'tlBackend', 'tlLocalPath'], flags);
  return tlLocalPath ?? tlogPath(dataDir);
}

export function tlogCommand(): Command {
  const tlog = new Command('tlog')
    .description('the local transparency log of manifests and key rotations (<data-dir>/tlog.jsonl)')
    .exitOverride();

  addSettingOptions(tlog.command('verify'), ['dataDir', 'tlBackend', 'tlLocalPath'])
    .description('verify the hash chain and every rotation event; report the first broken index')
    .option('--file <file>', 'a log file to check instead (e.g. a copy kept elsewhere)')
    .option('--anchor <index:hash>', 'an INDEX:HASH printed by an earlier verify: detects a truncated log')
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (flags: VerifyFlags, command: Command) => {
      let anchor: TlogAnchor | undefined;
      try {
        anchor = flags.anchor ? parseTlogAnchor(flags.anchor) : undefined;
      } catch (error) {
        command.error(`error: --anchor: ${(error as Error).message}`, { exitCode: 2, code: 'tessera.usage' });
      }
      const file = flags.file ? resolve(flags.file) : nodeTlog(flags);
      const exists = await stat(file).then(
        (info) => info.isFile(),
        () => false,
      );
      if (!exists) {
        process.stderr.write(`tessera: tlog_missing: no transparency log at ${file}\n`);
        process.exitCode = 1;
        return;
      }
      const verdict = await verifyTlog(file, anchor ? { anchor } : {});
      if (flags.json) process.stdout.write(`${JSON.stringify({ file, ...verdict }, null, 2)}\n`);
      else if (verdict.ok)
        process.stdout.write(
          `tlog OK: ${file}: ${verdict.count} entries\nanchor ${verdict.lastIndex}:${verdict.lastHash}\n`,
        );
      else
        process.stdout.write(
          `tlog BROKEN: ${file}: first bad index ${verdict.firstBadIndex} (${verdict.reason}) after ${verdict.count} good entries\n`,
        );
      if (!verdict.ok) {
        process.stderr.write(
          `tessera: tlog_broken: index ${verdict.firstBadIndex}: ${verdict.reason}: ${verdict.detail}\n`,
        );
        process.exitCode = 1;
      }
    });

  return tlog;
}
