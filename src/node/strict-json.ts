// JSON as the node accepts it from clients and peers alike: valid UTF-8 only (no silent U+FFFD), no
// duplicate keys (a reader of the first `scope` and a reader of the last must never disagree), and a
// bounded nesting depth (a 200k-deep document must not overflow the stack). JSON.parse does the parsing;
// this adds the three checks it does not make, in one linear pass over the text.
import { NodeError } from './errors.ts';

export const MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Bytes → text, refusing invalid UTF-8 (invalid_json). */
export function decodeUtf8(bytes: Uint8Array, what = 'body'): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new NodeError('invalid_json', `${what} is not valid UTF-8`);
  }
}

/** Parses `text` (invalid_json), refusing duplicate keys and nesting deeper than `maxDepth` (validation_failed). */
export function parseStrictJson(text: string, what = 'body', maxDepth = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new NodeError('invalid_json', `${what} is not valid JSON`);
  }
  checkStructure(text, what, maxDepth);
  return value;
}

function checkStructure(text: string, what: string, maxDepth: number): void {
  // One frame per open object (its keys) or array (null): enough to spot a key given twice.
  const frames: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end < 0) return; // unterminated: JSON.parse reports it
      const frame = frames[frames.length - 1];
      if (expectKey && frame) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (frame.has(key))
          throw new NodeError('validation_failed', `${what}: key "${key.slice(0, 64)}" appears twice`);
        // What fastify's own parser refused (prototype poisoning) stays refused behind this one.
        if (key === '__proto__')
          throw new NodeError('validation_failed', `${what}: key "__proto__" is not allowed`);
        frame.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      frames.push(c === '{' ? new Set() : null);
      if (frames.length > maxDepth)
        throw new NodeError('validation_failed', `${what}: nested deeper than ${maxDepth} levels`);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      frames.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = frames[frames.length - 1] instanceof Set;
    }
  }
}

/** Index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i;
  }
  return -1;
}

/** How deep `value` nests (a scalar is 0), stopping once past `limit`. */
export function depthOf(value: unknown, limit = MAX_JSON_DEPTH): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child, limit - 1));
    if (deepest > limit) break;
  }
  return deepest + 1;
}
