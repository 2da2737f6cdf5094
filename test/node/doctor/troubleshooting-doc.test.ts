// The operator guide's troubleshooting tables are generated from the doctor catalog, and the catalog covers
// every code the TLS core throws and every reason the core, the transport adapters and the federation
// listener refuse a handshake with (read from the source, so a new reason without an entry fails here).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CATALOG, peerCode } from '../../../src/node/doctor/catalog.ts';
import {
  TROUBLESHOOTING_END,
  TROUBLESHOOTING_START,
  withTroubleshootingTable,
} from '../../../src/node/doctor/markdown.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = (path: string) => readFile(join(root, path), 'utf8');

test('docs/operator/troubleshooting.md holds the tables generated from src/node/doctor/catalog.ts', async () => {
  const doc = await source('docs/operator/troubleshooting.md');
  assert.ok(
    doc.includes(TROUBLESHOOTING_START) && doc.includes(TROUBLESHOOTING_END),
    'the doc has the markers',
  );
  assert.ok(
    doc === withTroubleshootingTable(doc),
    'docs/operator/troubleshooting.md differs from src/node/doctor/catalog.ts: run `npm run docs:troubleshooting` and commit it',
  );
  for (const code of Object.keys(CATALOG)) assert.ok(doc.includes(`| \`${code}\` |`), code);
});

test('every TlsErrorCode of the core has a catalog entry', async () => {
  const errors = await source('src/tls/errors.ts');
  const union = errors.slice(errors.indexOf('export type TlsErrorCode'), errors.indexOf(';'));
  const codes = [...union.matchAll(/'(TLS_[A-Z_]+)'/g)].map((m) => m[1] as string);
  assert.ok(codes.length >= 10, `read the codes from errors.ts (${codes.length})`);
  for (const code of codes) assert.ok(Object.hasOwn(CATALOG, code), `${code} is in the catalog`);
});

test('every handshake rejection reason has a PEER_<REASON> entry naming it', async () => {
  const reasons = new Set<string>();
  const files = [
    ...(await listTs('src/tls')),
    ...['peer-gate.ts', 'http-client.ts', 'https-server.ts', 'probe.ts'].map((f) => `src/transport/${f}`),
    'src/node/app/federation-admission.ts',
  ];
  for (const file of files) {
    const text = await source(file);
    for (const pattern of [
      /\bdeny\(\s*'([a-z_]+)'/g,
      /\breason: '([a-z_]+)'/g,
      /PeerRejectedError\(\s*'([a-z_]+)'/g,
    ])
      for (const match of text.matchAll(pattern)) reasons.add(match[1] as string);
  }
  // rejections.ts maps OpenSSL and handshake codes to reasons: every snake_case literal of the mapping is
  // one, except the peer hanging up mid-handshake, which is logged at debug and never counted.
  const rejections = await source('src/transport/rejections.ts');
  const mapping = rejections.slice(0, rejections.indexOf('export function recordRejection'));
  for (const match of mapping.matchAll(/'([a-z]+(?:_[a-z]+)+)'/g))
    if (match[1] !== 'peer_aborted') reasons.add(match[1] as string);
  // The reload trigger 'start' is a label of the reload counter, not a refusal.
  reasons.delete('start');
  assert.ok(reasons.has('cert_untrusted') && reasons.has('no_uri_san') && reasons.has('uri_mismatch'));
  for (const reason of reasons) {
    const code = `PEER_${reason.toUpperCase()}`;
    assert.ok(Object.hasOwn(CATALOG, code), `${reason}: no ${code} in the catalog`);
    assert.equal(CATALOG[code as keyof typeof CATALOG].reason, reason, `${code} names its reason`);
    assert.equal(peerCode(reason), code);
  }
});

async function listTs(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => `${dir}/${e.name}`);
}
