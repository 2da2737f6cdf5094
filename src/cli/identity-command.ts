// `tessera identity rotate-key --kind node|issuer [--dry-run] [--dual-trust-days N] [--data-dir DIR]`:
// replaces a key of the node's data dir with a new one, announced by an event signed by the old key and
// logged in the transparency log. A running node on the same data dir switches within seconds (it watches
// the key files; SIGHUP forces it). Exit 0 when rotated (or dry run), 1 with `tessera: <code>: <detail>`.
import { Command, Option } from 'commander';
import { RotationError } from '../node/features/rotation/errors.ts';
import { parseKind } from '../node/features/rotation/key-files.ts';
import {
  DEFAULT_DUAL_TRUST_DAYS,
  type RotationResult,
  rotateKey,
} from '../node/features/rotation/rotate-key.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';

interface RotateFlags {
  kind: string;
  dryRun?: boolean;
  dualTrustDays?: string;
  dataDir?: string;
  json?: boolean;
}

export function identityCommand(): Command {
  const identity = new Command('identity')
    .description(
      "manage the node's signing keys (node key: manifest and peer tokens; issuer key: capabilities)",
    )
    .exitOverride();

  addSettingOptions(identity.command('rotate-key'), ['dataDir', 'tlBackend', 'tlLocalPath'])
    .description('replace a key; the old one stays accepted by peers until the dual-trust window ends')
    .addOption(new Option('--kind <kind>', 'which key').choices(['node', 'issuer']).makeOptionMandatory())
    .option('--dry-run', 'sign and show the rotation, write nothing')
    .option(
      '--dual-trust-days <n>',
      `days the old key stays accepted (default node ${DEFAULT_DUAL_TRUST_DAYS.node}, issuer ${DEFAULT_DUAL_TRUST_DAYS.issuer}; issuer at least 90)`,
    )
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (flags: RotateFlags) => {
      try {
        const { dataDir, tlLocalPath } = commandSettings(['dataDir', 'tlBackend', 'tlLocalPath'], flags);
        const result = await rotateKey({
          dataDir,
          ...(tlLocalPath ? { tlogPath: tlLocalPath } : {}),
          kind: parseKind(flags.kind),
          ...(flags.dualTrustDays !== undefined ? { dualTrustDays: parseDays(flags.dualTrustDays) } : {}),
          dryRun: flags.dryRun === true,
        });
        process.stdout.write(flags.json ? `${JSON.stringify(toJson(result), null, 2)}\n` : format(result));
      } catch (error) {
        if (!(error instanceof RotationError)) throw error;
        process.stderr.write(`tessera: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
      }
    });

  return identity;
}

function parseDays(value: string): number {
  if (!/^\d{1,6}$/.test(value))
    throw new RotationError(
      'dual_trust_invalid',
      `--dual-trust-days must be a whole number of days (got "${value}")`,
    );
  return Number(value);
}

function toJson(result: RotationResult): Record<string, unknown> {
  return {
    kind: result.kind,
    dry_run: result.dryRun,
    old_key_id: result.oldKeyId,
    old_fingerprint: result.oldFingerprint,
    new_key_id: result.newKeyId,
    new_fingerprint: result.newFingerprint,
    rotated_at: result.rotatedAt,
    dual_trust_until: result.dualTrustUntil,
    tlog_index: result.tlogIndex,
    retired_key_path: result.dryRun ? null : result.retiredKeyPath,
    event: result.event,
  };
}

function format(result: RotationResult): string {
  const lines: [string, string][] = [
    ['kind', `${result.kind} key${result.dryRun ? '   (DRY RUN: nothing was written)' : ''}`],
    ['old key_id', `${result.oldKeyId}  ${result.oldFingerprint}`],
    ['new key_id', `${result.newKeyId}  ${result.newFingerprint}`],
    ['dual trust', `old key accepted until ${result.dualTrustUntil}`],
    ['tlog index', `${result.tlogIndex}${result.dryRun ? ' (would be)' : ''}`],
  ];
  if (!result.dryRun) {
    lines.push(['retired key', `${result.retiredKeyPath} (deleted by the node when the window ends)`]);
    lines.push(['next', 'a running node on this data dir switches within seconds (or send it SIGHUP)']);
  }
  return `${lines.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')}\n`;
}
