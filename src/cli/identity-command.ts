// `tessera identity rotate-key --kind node|issuer [--dry-run] [--dual-trust-days N] [--replace-pending]`:
// replaces the node or issuer key with a new one, announced by an event signed by the old key, and logs the
// event and the manifest the node serves with the new key in the transparency log. It reads the same
// settings as `tessera serve`:
// - a key in the data dir is swapped in; a running node on that data dir switches within seconds (it
//   watches the key files; SIGHUP forces it);
// - a key given as a secret (TESSERA_/STIGMEM_NODE_PRIVATE_KEY, …_ISSUER_PRIVATE_KEY) cannot be replaced
//   by us: the new seed is printed once, on stdout, for the operator's secrets manager, and the node uses
//   it after the secret is replaced and the node restarted. The seed is printed BEFORE the log is written
//   (a rotation whose seed nobody saw would lock the operator out of the new key), and is written nowhere
//   else. If the log write then fails, stderr says the seed printed is void.
// Exit 0 when rotated (or dry run), 1 with `tessera: <code>: <detail>`.
import { Command, Option } from 'commander';
import { seedOf } from '../node/features/identity/node-key.ts';
import { RotationError } from '../node/features/rotation/errors.ts';
import { parseKind } from '../node/features/rotation/key-files.ts';
import {
  DEFAULT_DUAL_TRUST_DAYS,
  type RotationResult,
  rotateKey,
} from '../node/features/rotation/rotate-key.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';
import { keySource, tlsLeafHashes } from './signing-keys.ts';

const ROTATE_SETTINGS = [
  'dataDir',
  'entityUri',
  'tlBackend',
  'tlLocalPath',
  'nodePrivateKey',
  'nodeKeyPath',
  'issuerPrivateKey',
  'tlsCert',
] as const;

interface RotateFlags {
  kind: string;
  dryRun?: boolean;
  dualTrustDays?: string;
  replacePending?: boolean;
  json?: boolean;
}

export function identityCommand(): Command {
  const identity = new Command('identity')
    .description(
      "manage the node's signing keys (node key: manifest and peer tokens; issuer key: capabilities)",
    )
    .exitOverride();

  addSettingOptions(identity.command('rotate-key'), ROTATE_SETTINGS)
    .description(
      'replace a key; the old one stays accepted by peers until the dual-trust window ends. A key given as a secret gets a new seed, printed once for your secrets manager',
    )
    .addOption(new Option('--kind <kind>', 'which key').choices(['node', 'issuer']).makeOptionMandatory())
    .option('--dry-run', 'check the transparency log, sign and show the rotation, write nothing')
    .option(
      '--dual-trust-days <n>',
      `days the old key stays accepted (default node ${DEFAULT_DUAL_TRUST_DAYS.node}, issuer ${DEFAULT_DUAL_TRUST_DAYS.issuer}; issuer at least 90)`,
    )
    .option(
      '--replace-pending',
      "a secret still holds the key a logged rotation replaced and that rotation's seed is lost: rotate from it again",
    )
    .option('--json', 'print JSON (for a secret: the new seed is in its new_private_key field)')
    .exitOverride()
    .action(async (flags: RotateFlags) => {
      let seedShown = false;
      try {
        const s = commandSettings(ROTATE_SETTINGS, flags);
        const kind = parseKind(flags.kind);
        const own = await keySource(kind, s, flags);
        if (own.from === 'file')
          throw new RotationError(
            'key_fixed',
            `the node key is the file ${own.path} (TESSERA_NODE_KEY_PATH), which rotate-key does not replace: keep the key in the data dir or give it as TESSERA_NODE_PRIVATE_KEY to rotate it here`,
          );
        const other = await keySource(kind === 'node' ? 'issuer' : 'node', s, flags);
        const variable = own.from === 'secret' ? own.variable : undefined;
        const render = (result: RotationResult) =>
          flags.json ? `${JSON.stringify(toJson(result, variable), null, 2)}\n` : format(result, variable);
        const result = await rotateKey({
          dataDir: s.dataDir,
          ...(s.tlLocalPath ? { tlogPath: s.tlLocalPath } : {}),
          kind,
          ...(flags.dualTrustDays !== undefined ? { dualTrustDays: parseDays(flags.dualTrustDays) } : {}),
          dryRun: flags.dryRun === true,
          replacePending: flags.replacePending === true,
          ...(own.from === 'secret' ? { secret: own.key } : {}),
          manifest: {
            entityUri: s.entityUri,
            ...(s.tlsCert ? { tls: await tlsLeafHashes(s.tlsCert) } : {}),
            ...(other.key ? { otherKey: other.key } : {}),
          },
          // A secret's new seed is shown before anything is committed; if stdout fails, nothing is.
          ...(variable
            ? {
                beforeCommit: async (result: RotationResult) => {
                  await writeStdout(render(result));
                  seedShown = true;
                },
              }
            : {}),
        });
        if (!seedShown) await writeStdout(render(result));
      } catch (error) {
        if (!(error instanceof RotationError)) throw error;
        process.stderr.write(`tessera: ${error.code}: ${error.message}\n`);
        if (seedShown)
          process.stderr.write(
            'tessera: the rotation was NOT recorded: discard the seed printed above and keep the current secret\n',
          );
        process.exitCode = 1;
      }
    });

  return identity;
}

/** Resolves once the text is handed to the OS (a closed pipe rejects instead of crashing the process). */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(new RotationError('write_failed', `cannot write to stdout (${error.code ?? 'error'})`));
    process.stdout.once('error', onError);
    process.stdout.write(text, (error) => {
      process.stdout.off('error', onError);
      if (error) onError(error);
      else resolve();
    });
  });
}

function parseDays(value: string): number {
  if (!/^\d{1,6}$/.test(value))
    throw new RotationError(
      'dual_trust_invalid',
      `--dual-trust-days must be a whole number of days (got "${value}")`,
    );
  return Number(value);
}

/** RFC 3339 as the Stigmem tutorial prints it (the event's times are whole seconds). */
const rfc3339 = (iso: string) => iso.replace(/\.000Z$/, 'Z');

function toJson(result: RotationResult, variable: string | undefined): Record<string, unknown> {
  return {
    kind: result.kind,
    dry_run: result.dryRun,
    key_source: result.fromSecret ? 'secret' : 'data-dir',
    old_key_id: result.oldKeyId,
    old_fingerprint: result.oldFingerprint,
    new_key_id: result.newKeyId,
    new_fingerprint: result.newFingerprint,
    rotated_at: result.rotatedAt,
    dual_trust_until: result.dualTrustUntil,
    manifest_tl_index: result.manifestIndex,
    rotation_tl_index: result.rotationIndex,
    /** Kept for scripts written before the manifest was logged too: the rotation entry's index. */
    tlog_index: result.rotationIndex,
    retired_key_path: result.dryRun ? null : result.retiredKeyPath,
    event: result.event,
    // Only when asked for JSON and the key is a secret: the one place the operator can take it from.
    ...(variable && !result.dryRun
      ? { secret_variable: variable, new_private_key: seedOf(result.newKey.privateKey) }
      : {}),
  };
}

function format(result: RotationResult, variable: string | undefined): string {
  const would = result.dryRun ? ' (would be)' : '';
  const lines = [
    ...(result.dryRun ? ['DRY RUN — nothing was written; the new key below is discarded'] : []),
    `Key rotation (${result.kind}) ${result.dryRun ? 'checked' : 'complete'}`,
    `old key_id : ${result.oldKeyId}`,
    `new key_id : ${result.newKeyId}`,
    `dual-trust : ${rfc3339(result.dualTrustUntil)}`,
    `manifest TL index : ${result.manifestIndex}${would}`,
    `rotation TL index : ${result.rotationIndex}${would}`,
  ];
  if (result.dryRun) {
    if (variable) lines.push(`(a real run prints the new seed for ${variable} once)`);
  } else if (variable) {
    lines.push(
      'ACTION REQUIRED — update your secrets manager with the new private key:',
      `${variable}=${seedOf(result.newKey.privateKey)}`,
      `then restart the node: it serves key_id ${result.newKeyId}; the old key stays trusted until ${rfc3339(result.dualTrustUntil)}`,
    );
  } else {
    lines.push(
      `retired key : ${result.retiredKeyPath} (deleted by the node when the window ends)`,
      'a running node on this data dir switches within seconds (or send it SIGHUP)',
    );
  }
  return `${lines.join('\n')}\n`;
}
