// The status page's files (assets/: an HTML shell, a script, a stylesheet, an icon), read once when the node
// is built, and the headers they are served with: a CSP that allows only this node's own script, style
// and JSON (no inline code, no other origin, no framing), and no sniffing, referrers or caching of data.
import { readFile } from 'node:fs/promises';

export interface StatusAssets {
  html: string;
  js: string;
  css: string;
  /** The page's icon (so browsers do not ask for /favicon.ico, which is not ours to answer). */
  svg: string;
}

const ASSETS = new URL('./assets/', import.meta.url);

export const STATUS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

/** Sent with every status response (the page, its files and its data). */
export const STATUS_HEADERS: Record<string, string> = {
  'content-security-policy': STATUS_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * Reads the files. `authRequired: false` (TESSERA_AUTH_REQUIRED=false, loopback only) is written into the
 * page, so its script fetches the data without asking for a key.
 */
export async function loadStatusAssets(options: { authRequired: boolean }): Promise<StatusAssets> {
  const read = (name: string) => readFile(new URL(name, ASSETS), 'utf8');
  const [html, js, css, svg] = await Promise.all([
    read('status.html'),
    read('status.js'),
    read('status.css'),
    read('status.svg'),
  ]);
  return {
    html: options.authRequired
      ? html
      : html.replace('<body data-auth="required">', '<body data-auth="none">'),
    js,
    css,
    svg,
  };
}
