// `tessera capability verify <token|->`: explains a capability token against the node's own state, read
// with the same settings as `tessera serve`: its issuer keys (the data dir or TESSERA_ISSUER_PRIVATE_KEY,
// plus the keys rotated out inside their dual-trust window, from the transparency log), its approved
// peers' issuer keys and its revocation list (the node's database, opened only when needed). Prints the
// issuer, key (current or retiring), subject, audience, permission, issue and expiry times, id and
// revocation. Exit 0 valid, 1 refused (`tessera: <reason>: <detail>` on stderr), 2 nothing could be
// checked (settings, database, keys). The token is a secret: it is never printed, not even in part.
import { Command } from 'commander';
import type { OpenedState } from '../node/app/open-store.ts';
import {
  type CapabilityExplanation,
  explainCapability,
  type TrustedIssuerKey,
} from '../node/features/capabilities/explain.ts';
import { publicKeyFromRaw } from '../node/features/identity/node-key.ts';
import { RotationError } from '../node/features/rotation/errors.ts';
import { readTrustedKeys } from '../node/features/rotation/trusted-keys.ts';
import { ConfigError } from '../node/settings/read.ts';
import { openExistingState, STATE_SETTINGS, stateSettings } from './node-state.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';
import { keySource } from './signing-keys.ts';

/** Longer than any capability this node mints (a few hundred bytes) by far; bounds stdin. */
export const MAX_TOKEN_LENGTH = 16_384;

const VERIFY_SETTINGS = [
  ...STATE_SETTINGS,
  'entityUri',
  'issuerPrivateKey',
  'tlBackend',
  'tlLocalPath',
] as const;

/** Something that prevents a verdict (exit 2). */
class CannotCheck extends Error {}

export function capabilityCommand(): Command {
  const capability = new Command('capability')
    .description('inspect capability tokens (issued with POST /v1/capabilities)')
    .exitOverride();

  addSettingOptions(capability.command('verify'), VERIFY_SETTINGS)
    .description(
      'verify and explain a capability token against this node (issuer keys, expiry, revocation); exit 0 valid, 1 refused, 2 cannot check',
    )
    .argument('<token>', 'the token, or - to read it from stdin (keeps it out of `ps` and shell history)')
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (tokenArg: string, flags: { json?: boolean }) => {
      let state: OpenedState | undefined;
      try {
        const token = tokenArg === '-' ? await readStdinToken() : tokenArg.trim();
        const s = commandSettings(VERIFY_SETTINGS, flags);
        const now = new Date();
        const openState = async () => {
          try {
            state ??= await openExistingState(stateSettings(flags));
          } catch (error) {
            throw new CannotCheck((error as Error).message);
          }
          return state.store;
        };
        const explanation =
          token.length > MAX_TOKEN_LENGTH
            ? tooLong(token.length)
            : await explainCapability(token, {
                selfEntityUri: s.entityUri,
                issuerKeys: async (issuer, at) =>
                  issuer === s.entityUri
                    ? ownIssuerKeys(s, flags, at)
                    : peerIssuerKeys(await openState(), issuer, at),
                revocations: openState,
                now,
              });
        process.stdout.write(
          flags.json ? `${JSON.stringify(toJson(explanation), null, 2)}\n` : format(explanation, now),
        );
        if (!explanation.valid) {
          process.stderr.write(
            `tessera: ${explanation.reason}: ${printable(explanation.detail ?? 'refused')}\n`,
          );
          process.exitCode = 1;
        }
      } catch (error) {
        if (!(error instanceof CannotCheck || error instanceof RotationError || error instanceof ConfigError))
          throw error;
        const code = error instanceof RotationError ? `${error.code}: ` : '';
        process.stderr.write(`tessera: ${code}${error.message}\n`);
        process.exitCode = 2;
      } finally {
        await state?.close();
      }
    });

  return capability;
}

/** The token on stdin, trimmed; at most MAX_TOKEN_LENGTH characters are kept (more is refused). */
async function readStdinToken(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin.setEncoding('utf8')) {
    text += chunk as string;
    if (text.length > MAX_TOKEN_LENGTH + 1024) break; // enough to know it is too long
  }
  return text.trim();
}

function tooLong(length: number): CapabilityExplanation {
  return {
    valid: false,
    reason: 'malformed',
    detail: `the token is ${length} characters long; a capability token is at most ${MAX_TOKEN_LENGTH}`,
    selfIssued: false,
    signatureVerified: false,
    expired: null,
    revocation: null,
  };
}

/** This node's issuer keys as the node holds them (current, then retiring). */
async function ownIssuerKeys(
  s: { dataDir: string; issuerPrivateKey?: string | undefined; tlLocalPath?: string | undefined },
  flags: object,
  now: Date,
): Promise<TrustedIssuerKey[]> {
  const source = await keySource('issuer', s, flags);
  const trusted = await readTrustedKeys({
    dataDir: s.dataDir,
    kind: 'issuer',
    ...(s.tlLocalPath ? { tlogPath: s.tlLocalPath } : {}),
    ...(source.from === 'secret' ? { secret: source.key } : {}),
    now,
  });
  if (!trusted)
    throw new CannotCheck(
      `no issuer key at ${source.from === 'data-dir' ? source.path : 'its source'}: give the node's --data-dir (or TESSERA_ISSUER_PRIVATE_KEY) as for serve`,
    );
  return [
    { keyId: trusted.current.keyId, publicKey: trusted.current.publicKey, status: 'current', notAfter: null },
    ...trusted.retired.map((key) => ({
      keyId: key.keyId,
      publicKey: key.publicKey,
      status: 'retiring' as const,
      notAfter: key.notAfter.toISOString(),
    })),
  ];
}

/** An approved peer's issuer keys as the node last learned them from its signed manifest. */
async function peerIssuerKeys(
  store: Awaited<ReturnType<typeof openExistingState>>['store'],
  issuer: string,
  now: Date,
): Promise<TrustedIssuerKey[] | null> {
  const peer = await store.getPeerByEntityUri(issuer);
  if (peer?.status !== 'approved') return null;
  const keys = (await store.listPeerKeys(peer.id))
    .filter((k) => k.kind === 'issuer' && (k.notAfter === null || now.getTime() < Date.parse(k.notAfter)))
    .sort((a, b) => (a.notAfter === null ? -1 : b.notAfter === null ? 1 : 0))
    .map((k) => ({
      keyId: k.keyId,
      publicKey: publicKeyFromRaw(k.publicKey),
      status: k.notAfter === null ? ('current' as const) : ('retiring' as const),
      notAfter: k.notAfter,
    }));
  return keys.length > 0 ? keys : null;
}

/** Control characters out and a bound on length: details may quote what the token claims. */
function printable(text: string, max = 300): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code === 0x7f ? '?' : ch;
  }
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

function toJson(e: CapabilityExplanation): Record<string, unknown> {
  const c = e.capability;
  return {
    valid: e.valid,
    reason: e.reason ?? null,
    detail: e.detail === undefined ? null : printable(e.detail),
    signature_verified: e.signatureVerified,
    issuer: c ? printable(c.issuer) : null,
    self_issued: e.selfIssued,
    key_id: e.key?.keyId ?? (e.keyId === undefined ? null : printable(e.keyId)),
    key_status: e.key?.status ?? null,
    key_trusted_until: e.key?.notAfter ?? null,
    subject: c ? printable(c.subject) : null,
    audience: null,
    verb: c ? printable(c.verb) : null,
    object: c ? printable(c.object) : null,
    issued_at: c?.issued_at ?? null,
    expires_at: c?.expires_at ?? null,
    expired: e.expired,
    jti: c?.id ?? null,
    revoked: e.revocation !== null,
    revoked_at: e.revocation?.revoked_at ?? null,
    revocation_reason: e.revocation?.reason === undefined ? null : e.revocation.reason,
  };
}

function format(e: CapabilityExplanation, now: Date): string {
  const verdict = e.valid ? 'VALID' : `INVALID (${e.reason}): ${printable(e.detail ?? 'refused')}`;
  const lines = [`capability token: ${verdict}`];
  const c = e.capability;
  if (c) {
    const unverified = e.signatureVerified ? '' : '   (unverified: the signature did not verify)';
    const key = e.key
      ? `${e.key.keyId} (${e.key.status === 'current' ? 'current issuer key' : `retiring issuer key, trusted until ${e.key.notAfter}`})`
      : `${printable(e.keyId ?? '(none named)')} (not a trusted issuer key)`;
    const until = Date.parse(c.expires_at) - now.getTime();
    lines.push(
      `issuer     : ${printable(c.issuer)}${e.selfIssued ? ' (this node)' : ''}${unverified}`,
      `key_id     : ${key}`,
      `subject    : ${printable(c.subject)}`,
      'audience   : none (a capability names no audience: any node that trusts its issuer accepts it)',
      `permission : ${printable(c.verb)} on ${printable(c.object)}`,
      `issued at  : ${c.issued_at}`,
      `expires at : ${c.expires_at} (${e.expired ? `EXPIRED ${duration(-until)} ago` : `${duration(until)} left`})`,
      `jti        : ${printable(c.id)}`,
      `revoked    : ${
        !e.signatureVerified
          ? 'not checked (unverified token)'
          : e.revocation
            ? `YES, at ${e.revocation.revoked_at}${e.revocation.reason ? ` (${printable(e.revocation.reason)})` : ''}`
            : 'no'
      }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
