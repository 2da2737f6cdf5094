// The dependency rule between src/ layers, checked on every `npm run lint` (and so in CI).
// Usage: node scripts/check-layers.mjs [SRC_DIR]   (default: this repository's src/)
//
// A layer is the first folder under src/ (files directly in src/ form the layer "root", the package's
// main entry). Relative imports (`import … from`, `export … from`, `import '…'`, `import('…')`) may only
// reach these layers:
//
//   tls        tls                              the identity core: nothing of ours below it
//   pki        pki, tls                         issuance builds on the core's certificate parsing
//   transport  transport, tls, pki              adapters over the core (the probe reports chains with pki)
//   store      store, tls, pki                  persistence: never node or cli
//   node       node, store, transport, tls, pki the reference node: never cli
//   cli        every layer                      the application
//   root       tls, transport                   `tessera` = tls + transport (never loads the store)
//
// Only cli reads `process.env` or `process.argv`: everything else gets its settings passed in.
// A new folder under src/ is an error until it has a rule here. Exit 1 with file:line for each breach.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const RULES = {
  tls: ['tls'],
  pki: ['pki', 'tls'],
  transport: ['transport', 'tls', 'pki'],
  store: ['store', 'tls', 'pki'],
  node: ['node', 'store', 'transport', 'tls', 'pki'],
  cli: ['cli', 'node', 'store', 'transport', 'tls', 'pki', 'root'],
  root: ['root', 'tls', 'transport'],
};
const ENV_READERS = new Set(['cli']);

const srcDir = resolve(process.argv[2] ?? fileURLToPath(new URL('../src', import.meta.url)));

function listTs(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTs(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(file) {
  const parts = relative(srcDir, file).split(sep);
  if (parts[0] === '..') return null;
  return parts.length === 1 ? 'root' : parts[0];
}

/** The source with comments blanked (newlines kept, so offsets still give line numbers); strings intact. */
function withoutComments(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, // import/export … from '…'
  /\bimport\s*['"]([^'"]+)['"]/g, // import '…' (side effect)
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // import('…')
];
const ENV_PATTERNS = [
  /\bprocess\s*(?:\.\s*|\[\s*['"])(env|argv)\b/g,
  /\{[^{}]*\b(env|argv)\b[^{}]*\}\s*=\s*process\b/g, // const { env } = process
];

function lineAt(text, index) {
  return text.slice(0, index).split('\n').length;
}

const violations = [];
const files = listTs(srcDir).sort();
for (const file of files) {
  const layer = layerOf(file);
  const shown = relative(process.cwd(), file);
  const allowed = RULES[layer];
  if (!allowed) {
    violations.push(`${shown}:1: layer '${layer}' has no rule in scripts/check-layers.mjs`);
    continue;
  }
  const code = withoutComments(readFileSync(file, 'utf8'));
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[1];
      if (!specifier.startsWith('.')) continue; // packages are not layers
      const target = layerOf(resolve(dirname(file), specifier));
      const line = lineAt(code, match.index);
      if (target === null) {
        violations.push(`${shown}:${line}: imports '${specifier}' from outside src/`);
      } else if (!allowed.includes(target)) {
        violations.push(
          `${shown}:${line}: ${layer} may import only ${allowed.join(', ')}; '${specifier}' is in ${target}`,
        );
      }
    }
  }
  if (!ENV_READERS.has(layer)) {
    for (const pattern of ENV_PATTERNS) {
      for (const match of code.matchAll(pattern)) {
        violations.push(
          `${shown}:${lineAt(code, match.index)}: only cli reads process.${match[1]}; pass the value in`,
        );
      }
    }
  }
}

if (violations.length > 0) {
  process.stderr.write(`layer rule broken (${violations.length}):\n${violations.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`layers ok: ${files.length} files under ${relative(process.cwd(), srcDir) || '.'}\n`);
