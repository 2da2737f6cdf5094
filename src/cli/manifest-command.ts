// `tessera manifest verify URL|FILE`: prove a node manifest the way peering does. A file is checked on its
// own (structure, signature, key id, validity, expected URI); a URL is fetched over mTLS and must also be
// bound to the certificate it came over. Exit 0 when valid, 1 with `tessera: <code>: <detail>` otherwise.
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { HttpsPeerTransport } from '../node/features/federation/https/https-peer-transport.ts';
import { fetchPeerManifest } from '../node/features/identity/fetch-manifest.ts';
import { ManifestError, type SignedManifest, verifyManifest } from '../node/features/identity/manifest.ts';
import { describePublicKey } from '../node/features/identity/node-key.ts';
import type { PeerIdentity } from '../tls/identity.ts';
import { loadMaterial } from '../tls/material.ts';
import { parseMillis } from './parse.ts';
import { commandSettings } from './setting-options.ts';

interface VerifyFlags {
  cert?: string;
  key?: string;
  ca?: string;
  expectUri?: string;
  insecure?: boolean;
  json?: boolean;
  timeout: string;
}

/** What was checked and how it ended; `manifest` is verified when `valid`, only claimed otherwise. */
interface Verdict {
  valid: boolean;
  source: string;
  code?: string;
  detail?: string;
  manifest?: SignedManifest;
  tls?: PeerIdentity | null;
}

export function manifestCommand(): Command {
  const manifest = new Command('manifest')
    .description('verify node manifests (the signed identity a node serves at /.well-known)')
    .exitOverride();

  manifest
    .command('verify')
    .argument('<url-or-file>', "a node's federation URL (https://host:port) or a manifest JSON file")
    .description(
      'verify signature, key id, validity and expected URI; for a URL also that the TLS certificate carries the manifest identity and key',
    )
    .option(
      '--cert <file>',
      'our client certificate chain (PEM), for an https URL (default $TESSERA_TLS_CERT_PATH)',
    )
    .option('--key <file>', 'our client private key (PEM), for an https URL (default $TESSERA_TLS_KEY_PATH)')
    .option(
      '--ca <file>',
      'CA bundle (PEM) the server must chain to, for an https URL (default $TESSERA_TLS_CA_BUNDLE)',
    )
    .option('--expect-uri <uri>', 'entity URI the manifest must name')
    .option('--insecure', 'allow a plain http:// URL (dev mode: no certificate binding)')
    .option('--json', 'print JSON')
    .addOption(new Option('--timeout <ms>', 'fetch timeout').default('10000'))
    .exitOverride()
    .action(async (target: string, flags: VerifyFlags, command: Command) => {
      const verdict = /^https?:\/\//i.test(target)
        ? await verifyUrl(target, flags, command)
        : await verifyFile(target, flags);
      process.stdout.write(
        flags.json ? `${JSON.stringify(toJson(verdict), null, 2)}\n` : formatVerdict(verdict),
      );
      if (!verdict.valid) {
        process.stderr.write(`tessera: ${verdict.code}: ${verdict.detail}\n`);
        process.exitCode = 1;
      }
    });

  return manifest;
}

async function verifyFile(file: string, flags: VerifyFlags): Promise<Verdict> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return {
      valid: false,
      source: file,
      code: 'manifest_unreadable',
      detail: `cannot read ${file} (${code})`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { valid: false, source: file, code: 'manifest_malformed', detail: `${file} is not JSON` };
  }
  return settle(file, () => ({
    manifest: verifyManifest(parsed, {
      now: new Date(),
      ...(flags.expectUri ? { expectedEntityUri: flags.expectUri } : {}),
    }),
  }));
}

async function verifyUrl(url: string, flags: VerifyFlags, command: Command): Promise<Verdict> {
  const secure = url.toLowerCase().startsWith('https:');
  // Without flags, the node's own TLS material, read as `tessera serve` reads it.
  const node = commandSettings(['tlsCert', 'tlsKey', 'tlsCa'], {});
  const cert = flags.cert ?? node.tlsCert;
  const key = flags.key ?? node.tlsKey;
  const ca = flags.ca ?? node.tlsCa;
  if (secure && !(cert && key && ca))
    command.error('error: an https URL needs --cert, --key and --ca (federation is mutual TLS)', {
      exitCode: 2,
      code: 'tessera.usage',
    });
  // Our own material is validated like start-up does; a problem there is ours, reported as a TlsError.
  const credentials = secure
    ? { material: await loadMaterial({ certPath: cert!, keyPath: key!, caPath: ca! }) }
    : undefined;
  const timeoutMs = parseMillis(flags.timeout, '--timeout');
  return settle(url, async () => {
    const transport = new HttpsPeerTransport({
      credentials: credentials ?? null,
      insecure: flags.insecure === true,
      manifestTimeoutMs: timeoutMs,
    });
    const fetched = await fetchPeerManifest(transport, url, {
      ...(flags.expectUri ? { expectedEntityUri: flags.expectUri } : {}),
    });
    return { manifest: fetched.manifest, tls: fetched.tlsIdentity };
  });
}

async function settle(
  source: string,
  run: () => Promise<Pick<Verdict, 'manifest' | 'tls'>> | Pick<Verdict, 'manifest' | 'tls'>,
): Promise<Verdict> {
  try {
    return { valid: true, source, ...(await run()) };
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    return {
      valid: false,
      source,
      code: error.code,
      detail: error.message,
      ...(error.unverified ? { manifest: error.unverified } : {}),
    };
  }
}

function toJson(verdict: Verdict): Record<string, unknown> {
  const m = verdict.manifest;
  return {
    valid: verdict.valid,
    source: verdict.source,
    ...(verdict.valid ? {} : { code: verdict.code, detail: verdict.detail }),
    ...(m
      ? {
          entity_uri: m.entity_uri,
          key_id: m.key_id,
          fingerprint: describePublicKey(m.public_key).fingerprint,
          issued_at: m.issued_at,
          expires_at: m.expires_at,
          tls_spki_sha256: m.tls_spki_sha256,
          tls_cert_fingerprint: m.tls_cert_fingerprint ?? null,
          // Unverified content is labelled as such so no script mistakes it for a proven identity.
          [verdict.valid ? 'manifest' : 'claimed']: m,
        }
      : {}),
    ...(verdict.tls ? { tls: { uris: verdict.tls.uris, spki_sha256: verdict.tls.spkiSha256 } } : {}),
  };
}

function formatVerdict(verdict: Verdict): string {
  const lines: [string, string][] = [
    ['verdict', verdict.valid ? 'valid' : `INVALID (${verdict.code})`],
    ['source', verdict.source],
  ];
  const m = verdict.manifest;
  if (m) {
    const claimed = verdict.valid ? '' : ' (claimed, not verified)';
    lines.push(
      ['entity_uri', `${m.entity_uri}${claimed}`],
      ['key_id', m.key_id],
      ['fingerprint', describePublicKey(m.public_key).fingerprint],
      ['validity', `${m.issued_at} → ${m.expires_at}${verdict.valid ? ` (${timeLeft(m.expires_at)})` : ''}`],
      ['tls_spki', m.tls_spki_sha256 ? `sha256:${m.tls_spki_sha256}` : '(none: insecure dev mode)'],
    );
    if (m.tls_cert_fingerprint) lines.push(['tls_cert', `sha256 ${m.tls_cert_fingerprint}`]);
  }
  if (verdict.valid && verdict.tls)
    lines.push(['tls', 'certificate URI SAN = entity_uri, certificate key = tls_spki_sha256']);
  else if (verdict.valid && verdict.tls === null)
    lines.push(['tls', 'none (plain http): the manifest is not bound to a certificate']);
  else if (verdict.valid)
    lines.push(['tls', 'not checked: a file carries no connection (verify the URL to check the binding)']);
  return `${lines.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')}\n`;
}

function timeLeft(expiresAt: string): string {
  const ms = Date.parse(expiresAt) - Date.now();
  if (ms <= 0) return 'expired, within the allowed clock skew';
  const minutes = Math.floor(ms / 60_000);
  return `expires in ${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}
