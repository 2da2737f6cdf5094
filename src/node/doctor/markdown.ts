// The operator guide's troubleshooting table (docs/operator/troubleshooting.md), generated from the doctor
// catalog so the two cannot drift: `npm run docs:troubleshooting` writes it between the markers,
// test/node/doctor/troubleshooting-doc.test.ts checks it.
import { CATALOG, type CatalogEntry, type Family } from './catalog.ts';

export const TROUBLESHOOTING_START = '<!-- troubleshooting-table:start -->';
export const TROUBLESHOOTING_END = '<!-- troubleshooting-table:end -->';

const FAMILIES: Record<Family, string> = {
  settings: 'Settings',
  material: 'Our certificate, key and CA bundle',
  peer: 'Peers: `--peer-cert`, `--peer-url`, and every reason a handshake is refused',
};

const cell = (text: string) => text.replaceAll('|', '\\|');

function table(family: Family): string {
  const entries = (Object.entries(CATALOG) as [string, CatalogEntry][]).filter(
    ([, e]) => e.family === family,
  );
  const peer = family === 'peer';
  const head = peer
    ? ['| code | logged reason | cause | fix |', '|---|---|---|---|']
    : ['| code | severity | cause | fix |', '|---|---|---|---|'];
  const rows = entries.map(
    ([code, e]) =>
      `| \`${code}\` | ${peer ? (e.reason ? `\`${e.reason}\`` : '—') : e.severity} | ${cell(e.cause)} | ${cell(e.fix)} |`,
  );
  return [`### ${FAMILIES[family]}`, '', ...head, ...rows].join('\n');
}

/** The three tables (settings, own material, peers), in catalog order. */
export function troubleshootingMarkdown(): string {
  return (Object.keys(FAMILIES) as Family[]).map(table).join('\n\n');
}

/** `doc` with the text between the markers replaced by the generated tables. */
export function withTroubleshootingTable(doc: string): string {
  const start = doc.indexOf(TROUBLESHOOTING_START);
  const end = doc.indexOf(TROUBLESHOOTING_END);
  if (start < 0 || end < start)
    throw new Error(`no ${TROUBLESHOOTING_START} … ${TROUBLESHOOTING_END} markers`);
  return `${doc.slice(0, start + TROUBLESHOOTING_START.length)}\n${troubleshootingMarkdown()}\n${doc.slice(end)}`;
}
