// `tessera verify-proof [FILE|-] [--manifest FILE]… [--node-key KEY] [--strict] [--json]`: checks a recall
// answer fetched with `Stigmem-Verify: full` (or one fact with its proof) offline, one line per check:
// the checkpoint's signature and key, and per fact its CID, id, inclusion proof and origin signature.
// Exit 0 when no check failed, 1 naming the first failed check on stderr (with --strict also a skipped one).
// Offline by design: it reads no node settings and opens no connection.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import { addManifestKeys, addTrustedKey, type TrustedKeys } from '../node/features/fact-log/trusted-keys.ts';
import {
  type ProofCheck,
  type ProofVerdict,
  verifyProofDocument,
} from '../node/features/fact-log/verify-proof.ts';
import { decodeUtf8, parseStrictJson } from '../node/strict-json.ts';

interface VerifyProofFlags {
  manifest: string[];
  nodeKey?: string;
  strict?: boolean;
  json?: boolean;
}

/** A recall answer within the largest token budget is far below this. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 256 * 1024;

class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function readBounded(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.destroy();
      throw new CliFailure('proof_malformed', `${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(source: string, limit: number, what: string, code: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readBounded(source === '-' ? process.stdin : createReadStream(source), limit, what);
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    const errno = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CliFailure(code, `cannot read ${what} (${errno})`);
  }
  try {
    // Strict: a document with a key twice could mean one thing to this check and another to its reader.
    return parseStrictJson(decodeUtf8(bytes, what), what);
  } catch (error) {
    throw new CliFailure(code, (error as Error).message);
  }
}

async function trustedKeys(flags: VerifyProofFlags): Promise<TrustedKeys> {
  const keys: TrustedKeys = new Map();
  for (const file of flags.manifest) {
    const manifest = await readJson(file, MAX_MANIFEST_BYTES, `manifest ${file}`, 'manifest_unreadable');
    try {
      addManifestKeys(keys, manifest);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new CliFailure(
        typeof code === 'string' ? code : 'manifest_malformed',
        `manifest ${file}: ${(error as Error).message}`,
      );
    }
  }
  return keys;
}

/** --node-key, checked: a raw base64url Ed25519 public key (the manifest's `public_key`). */
function nodeKeyFlag(flags: VerifyProofFlags): string | undefined {
  if (flags.nodeKey === undefined) return undefined;
  const key = flags.nodeKey.trim();
  const raw = /^[A-Za-z0-9_-]{43}$/.test(key) ? Buffer.from(key, 'base64url') : null;
  if (raw?.length !== 32 || raw.toString('base64url') !== key)
    throw new CliFailure(
      'node_key_invalid',
      '--node-key must be a raw base64url Ed25519 public key (43 characters)',
    );
  return key;
}

const STATUS = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;

function line(check: ProofCheck): string {
  return `${STATUS[check.status]} ${check.subject}: ${check.check}: ${check.detail}\n`;
}

function summary(verdict: ProofVerdict, ok: boolean): string {
  const count = (status: ProofCheck['status']) => verdict.checks.filter((c) => c.status === status).length;
  return `verify-proof ${ok ? 'OK' : 'FAILED'}: ${verdict.facts} fact${verdict.facts === 1 ? '' : 's'}, ${count('ok')} checks passed, ${count('fail')} failed, ${count('skip')} skipped\n`;
}

export function verifyProofCommand(): Command {
  return new Command('verify-proof')
    .description(
      'verify a recall answer fetched with "Stigmem-Verify: full" offline: checkpoint signature and key, and per fact its CID, id, inclusion proof and origin signature',
    )
    .argument('[file]', 'the answer as JSON, or - for stdin', '-')
    .option(
      '--manifest <file>',
      "a node's signed manifest (JSON): pins its key for the checkpoint and checks origin signatures of its facts (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--node-key <key>',
      "the node's public key (base64url, the manifest's public_key): pins the checkpoint key",
    )
    .option('--strict', 'a check that could not be made (unknown key) fails too')
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (file: string, flags: VerifyProofFlags) => {
      let verdict: ProofVerdict;
      try {
        const nodeKey = nodeKeyFlag(flags);
        const keys = await trustedKeys(flags);
        const document = await readJson(
          file,
          MAX_DOCUMENT_BYTES,
          file === '-' ? 'stdin' : file,
          'proof_malformed',
        );
        if (nodeKey !== undefined) pinNodeKey(keys, document, nodeKey);
        verdict = verifyProofDocument(document, { keys });
      } catch (error) {
        if (!(error instanceof CliFailure)) throw error;
        process.stderr.write(`tessera: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
      // --strict: a check nothing known could decide counts as failed.
      const failed =
        verdict.checks.find((c) => c.status === 'fail') ??
        (flags.strict ? verdict.checks.find((c) => c.status === 'skip') : undefined);
      const ok = failed === undefined;
      if (flags.json) process.stdout.write(`${JSON.stringify({ ...verdict, ok }, null, 2)}\n`);
      else process.stdout.write(verdict.checks.map(line).join('') + summary(verdict, ok));
      if (failed) {
        process.stderr.write(
          `tessera: proof_invalid: ${failed.subject}: ${failed.check}: ${failed.detail}\n`,
        );
        process.exitCode = 1;
      }
    });
}

/** --node-key names the key of the node whose answer this is: the checkpoint's log_id. */
function pinNodeKey(keys: TrustedKeys, document: unknown, key: string): void {
  const logId = (document as { chain_proof?: { checkpoint?: { log_id?: unknown } } } | null)?.chain_proof
    ?.checkpoint?.log_id;
  // Without a log_id the checkpoint is malformed, which the verifier reports.
  if (typeof logId === 'string') addTrustedKey(keys, logId, key);
}
