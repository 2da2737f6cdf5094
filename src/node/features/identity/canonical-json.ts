// RFC 8785 (JCS) canonical JSON, the byte string every Tessera signature covers.
import canonicalizeModule from 'canonicalize';

// The package is CommonJS (`module.exports = fn`) but its typings declare an ES default export, which
// NodeNext resolution types as the module namespace; at run time the default import is the function.
const serialize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** The canonical JSON text of a JSON value; throws on values JSON cannot represent (undefined, functions). */
export function canonicalJson(value: unknown): string {
  const text = serialize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}
