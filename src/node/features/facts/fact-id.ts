// A fact's id is derived from its content, so no one can give other content the id of a genuine fact:
// the id is the first 128 bits of the CID's SHA-256 written as a UUID (RFC 9562 version 8: the version
// nibble set to 8, the variant bits to 10). Stigmem clients keep seeing UUID-shaped ids; every node derives
// the same id for the same content; a receiver recomputes it and refuses a record that disagrees
// (`id_conflict`). The store's migration 5 rewrites the random ids of older facts the same way, in SQL
// (see FACT_ID_SQL), keeping the old ids as aliases.
import { NodeError } from '../../errors.ts';

const VARIANT = '89ab89ab89ab89ab';

/** The id of the fact whose CID is `cid` (`sha256:<64 hex>`). */
export function factId(cid: string): string {
  const h = cid.slice('sha256:'.length);
  const variant = VARIANT[Number.parseInt(h[16] as string, 16)];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Refuses a record whose id is not the one its CID gives (another fact's id, or a made-up one). */
export function checkFactId(record: { id: string; cid: string }): void {
  const expected = factId(record.cid);
  if (record.id !== expected)
    throw new NodeError(
      'id_conflict',
      `id: ${record.id} is not the id of ${record.cid} (ids are derived from the CID: ${expected})`,
    );
}
