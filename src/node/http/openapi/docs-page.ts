// GET /docs: the API description as one HTML page, rendered on the server from the OpenAPI documents. No
// script, no external asset (it works offline and behind any proxy); the only style is inline and allowed
// by its hash, and the CSP refuses everything else.
import { createHash } from 'node:crypto';
import type { JsonSchema } from './components.ts';
import type { OpenApiDocument } from './document.ts';

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header,main,nav{max-width:72rem;margin:0 auto;padding:0 1rem}
header{border-bottom:1px solid #d0d7de}
h1{font-size:1.5rem}h2{margin-top:2.5rem;border-bottom:2px solid #d0d7de}h3{margin-top:2rem}
article{border:1px solid #d0d7de;border-radius:6px;padding:.25rem 1rem;margin:1rem 0}
h4{font-size:1rem;margin:.75rem 0;overflow-wrap:anywhere}
.method{display:inline-block;min-width:4rem;font:700 .8rem monospace;text-align:center;border-radius:4px;padding:.1rem .3rem;color:#fff;background:#57606a}
.get{background:#0969da}.post{background:#1a7f37}.delete{background:#cf222e}.put,.patch{background:#9a6700}
.meta{color:#57606a;font-size:.9rem}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:.8rem;max-height:30rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
td pre{margin:0;max-height:12rem}
dt{font-weight:700;margin-top:.5rem}dd{margin-left:1rem}
summary{cursor:pointer}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}pre{background:#161b22}a{color:#58a6ff}}
`;

/** The page's Content-Security-Policy: nothing but its own inline style. */
export const DOCS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface DocsPageSource {
  /** Prefix of the anchors of this document (`api`, `federation`). */
  id: string;
  /** Where the document is served (same origin). */
  href: string;
  document: OpenApiDocument;
}

const html = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** Markdown descriptions as text, with `code` spans kept. */
const prose = (text: string) => html(text).replace(/`([^`]+)`/g, '<code>$1</code>');

/** Pretty JSON; references to components link to them on the page. */
function json(value: unknown, id: string): string {
  return `<pre>${html(JSON.stringify(value, null, 2)).replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g,
    (_all, name: string) => `<a href="#${id}-schema-${name}">&quot;#/components/schemas/${name}&quot;</a>`,
  )}</pre>`;
}

const details = (summary: string, body: string, open = false) =>
  `<details${open ? ' open' : ''}><summary>${summary}</summary>${body}</details>`;

export function renderDocsPage(sources: readonly DocsPageSource[]): string {
  const first = sources[0]?.document;
  const title = `${first?.info.title ?? 'API'} ${first?.info.version ?? ''}`.trim();
  const links = sources.map((s) => `<a href="${html(s.href)}">${html(s.href)}</a>`).join(' · ');
  const nav = sources
    .map(
      (s) =>
        `<li><a href="#${s.id}">${html(s.document.info.title)}</a>: ${s.document.tags
          .map((tag) => `<a href="#${s.id}-tag-${html(tag.name)}">${html(tag.name)}</a>`)
          .join(', ')}</li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)}</title><style>${STYLE}</style></head>
<body><header><h1>${html(title)}</h1><p>OpenAPI 3.1 documents: ${links}</p></header>
<nav><ul>${nav}</ul></nav>
<main>${sources.map(section).join('\n')}</main></body></html>
`;
}

function section({ id, document }: DocsPageSource): string {
  const schemes = Object.entries(document.components.securitySchemes)
    .map(
      ([name, scheme]) =>
        `<dt>${html(name)} (${html(String(scheme.type))})</dt><dd>${prose(String(scheme.description ?? ''))}</dd>`,
    )
    .join('');
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const byTag = document.tags.map((tag) => {
    const ops = operations.filter(({ op }) => (op.tags as string[])[0] === tag.name);
    return `<h3 id="${id}-tag-${html(tag.name)}">${html(tag.name)}</h3>${ops.map((o) => operation(id, o)).join('')}`;
  });
  const components = Object.entries(document.components.schemas)
    .map(
      ([name, schema]) =>
        `<div id="${id}-schema-${html(name)}">${details(`<code>${html(name)}</code>`, json(schema, id))}</div>`,
    )
    .join('');
  return `<section id="${id}"><h2>${html(document.info.title)}</h2><p>${prose(document.info.description)}</p>
<p class="meta">Servers: ${document.servers.map((s) => `<code>${html(s.url)}</code> (${html(s.description)})`).join(', ')}</p>
<dl>${schemes}</dl>${byTag.join('')}<h3>Schemas</h3>${components}</section>`;
}

function operation(
  id: string,
  { path, method, op }: { path: string; method: string; op: JsonSchema },
): string {
  const meta = [
    `access: <code>${html(String(op['x-tessera-access']))}</code>`,
    op['x-tessera-quota'] ? `quota: <code>${html(String(op['x-tessera-quota']))}</code>` : '',
    op['x-tessera-audit'] ? `audited as <code>${html(String(op['x-tessera-audit']))}</code>` : '',
  ].filter(Boolean);
  const parameters = (op.parameters ?? []) as JsonSchema[];
  const parameterTable = parameters.length
    ? `<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>${parameters
        .map(
          (p) =>
            `<tr><td><code>${html(String(p.name))}</code>${p.required ? ' (required)' : ''}${p.description ? `<br>${prose(String(p.description))}` : ''}</td><td>${html(String(p.in))}</td><td>${json(p.schema, id)}${p.examples ? json(p.examples, id) : ''}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const body = op.requestBody as JsonSchema | undefined;
  const bodyContent = body ? ((body.content as JsonSchema)['application/json'] as JsonSchema) : undefined;
  const requestBody = bodyContent
    ? `<h5>Request body${body?.required ? '' : ' (optional)'}</h5>${details('schema', json(bodyContent.schema, id))}${Object.entries(
        (bodyContent.examples ?? {}) as Record<string, JsonSchema>,
      )
        .map(([, example]) =>
          details(`example: ${html(String(example.summary))}`, json(example.value, id), true),
        )
        .join('')}`
    : '';
  const responses = Object.entries(op.responses as Record<string, JsonSchema>)
    .map(([status, response]) => {
      const content = Object.entries((response.content ?? {}) as Record<string, JsonSchema>)
        .map(
          ([type, media]) =>
            details(`<code>${html(type)}</code> schema`, json(media.schema, id)) +
            (media.example !== undefined ? details('example', json(media.example, id)) : ''),
        )
        .join('');
      return `<dt>${html(status)}</dt><dd>${prose(String(response.description))}${content}</dd>`;
    })
    .join('');
  return `<article id="${id}-op-${html(String(op.operationId))}"><h4><span class="method ${html(method)}">${html(method.toUpperCase())}</span> <code>${html(path)}</code> ${html(String(op.summary))}</h4>
${op.description ? `<p>${prose(String(op.description))}</p>` : ''}<p class="meta">${meta.join(' · ')}</p>${parameterTable}${requestBody}<h5>Responses</h5><dl>${responses}</dl></article>`;
}
