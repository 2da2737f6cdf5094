// Offline verification of a recall answer with chain proofs (`Stigmem-Verify: full`), or of one fact with
// its proof: `{fact, chain_proof: {checkpoint}}`. Each check is reported on its own (ok, fail, or skip when
// nothing known can decide it):
// - checkpoint: its schema and its signature by the key it carries (key id derived from that key);
// - checkpoint key: that key is the node's (a pinned key, or the node's manifest) — skipped when neither
//   is given: then the answer is only consistent with itself;
// - per fact: the CID recomputed from the content, the id derived from the CID, the inclusion proof from the
//   fact's leaf to the checkpoint's root (RFC 9162), and the origin signature with a key known for the
//   origin (the checkpoint's key for the node's own facts, keys from manifests given for others).
import { z } from 'zod';
import { factCid } from '../facts/cid.ts';
import { factId } from '../facts/fact-id.ts';
import { originSignatureValid } from '../facts/origin-signature.ts';
import { factRecordSchema } from '../facts/schema.ts';
import { describePublicKey, publicKeyFromRaw } from '../identity/node-key.ts';
import { factLeafHash } from './append.ts';
import { checkpointSignatureProblem, type SignedCheckpoint, SignedCheckpointSchema } from './checkpoint.ts';
import { HEX_HASH, MAX_PROOF_LENGTH, verifyInclusion } from './merkle.ts';
import type { TrustedKeys } from './trusted-keys.ts';

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface ProofCheck {
  /** What was checked: `checkpoint`, `fact 3 sha256:…`. */
  subject: string;
  check: 'document' | 'signature' | 'key' | 'record' | 'cid' | 'id' | 'inclusion' | 'origin signature';
  status: CheckStatus;
  detail: string;
}

export interface ProofVerdict {
  /** No check failed (skips allowed). */
  ok: boolean;
  facts: number;
  checks: ProofCheck[];
}

/** At most this many facts per document: a recall answer is bounded by its token budget anyway. */
export const MAX_PROOF_FACTS = 10_000;

export const chainProofSchema = z.strictObject({
  cid: z.string(),
  origin_sig: z.strictObject({ kid: z.string(), sig: z.string() }).nullable(),
  log_index: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  tree_size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  inclusion_proof: z
    .array(z.string().regex(HEX_HASH, 'must be 64 lower-case hex digits'))
    .max(MAX_PROOF_LENGTH),
});
const provenFactSchema = factRecordSchema.extend({ chain_proof: chainProofSchema });
type ProvenFact = z.infer<typeof provenFactSchema>;

/** The facts and the checkpoint of a document in either accepted shape, or null. */
function partsOf(input: unknown): { facts: unknown[]; checkpoint: unknown } | null {
  if (typeof input !== 'object' || input === null) return null;
  const { facts, fact, chain_proof } = input as Record<string, unknown>;
  const checkpoint = (chain_proof as { checkpoint?: unknown } | null | undefined)?.checkpoint;
  if (typeof checkpoint !== 'object' || checkpoint === null) return null;
  if (Array.isArray(facts)) return { facts, checkpoint };
  return fact === undefined ? null : { facts: [fact], checkpoint };
}

const issue = (error: z.ZodError): string => {
  const first = error.issues[0];
  return `${first?.path.length ? first.path.join('.') : 'value'}: ${first?.message ?? 'invalid'}`;
};

export interface VerifyProofOptions {
  /** Node keys known per entity URI (trusted-keys.ts): pins the checkpoint key, checks peers' origin signatures. */
  keys?: TrustedKeys;
}

export function verifyProofDocument(input: unknown, options: VerifyProofOptions = {}): ProofVerdict {
  const checks: ProofCheck[] = [];
  const verdict = () => ({ ok: !checks.some((c) => c.status === 'fail'), facts: facts.length, checks });
  const add = (subject: string, check: ProofCheck['check'], status: CheckStatus, detail: string) =>
    checks.push({ subject, check, status, detail });
  let facts: unknown[] = [];

  const parts = partsOf(input);
  if (!parts) {
    add(
      'document',
      'document',
      'fail',
      'not a recall answer with proofs ({facts, chain_proof: {checkpoint}}) nor one fact ({fact, chain_proof: {checkpoint}}); ask with Stigmem-Verify: full',
    );
    return verdict();
  }
  if (parts.facts.length > MAX_PROOF_FACTS) {
    add('document', 'document', 'fail', `more than ${MAX_PROOF_FACTS} facts`);
    return verdict();
  }
  facts = parts.facts;
  const parsed = SignedCheckpointSchema.safeParse(parts.checkpoint);
  if (!parsed.success) {
    add('checkpoint', 'signature', 'fail', `malformed: ${issue(parsed.error)}`);
    return verdict();
  }
  const checkpoint = parsed.data;
  const signatureProblem = checkpointSignatureProblem(checkpoint);
  add(
    'checkpoint',
    'signature',
    signatureProblem ? 'fail' : 'ok',
    signatureProblem ??
      `log ${checkpoint.log_id}, ${checkpoint.tree_size} fact${checkpoint.tree_size === 1 ? '' : 's'}, root ${checkpoint.root_hash}, key ${checkpoint.key_id}, at ${checkpoint.timestamp}`,
  );
  if (signatureProblem) return verdict();
  const known = options.keys?.get(checkpoint.log_id);
  if (!known)
    add(
      'checkpoint',
      'key',
      'skip',
      `no key of ${checkpoint.log_id} was given (--manifest or --node-key): the answer is only checked against itself`,
    );
  else if (known.get(checkpoint.key_id) === checkpoint.public_key)
    add('checkpoint', 'key', 'ok', `key ${checkpoint.key_id} is a node key of ${checkpoint.log_id}`);
  else
    add(
      'checkpoint',
      'key',
      'fail',
      `key ${checkpoint.key_id} is not a known node key of ${checkpoint.log_id}`,
    );

  facts.forEach((input, i) => {
    const cid = (input as { cid?: unknown } | null)?.cid;
    const subject = `fact ${i}${typeof cid === 'string' ? ` ${cid.slice(0, 80)}` : ''}`;
    const fact = provenFactSchema.safeParse(input);
    if (!fact.success) {
      add(subject, 'record', 'fail', `malformed: ${issue(fact.error)}`);
      return;
    }
    for (const check of factChecks(fact.data, checkpoint, options.keys)) add(subject, ...check);
  });
  return verdict();
}

type FactCheck = [ProofCheck['check'], CheckStatus, string];

function factChecks(
  fact: ProvenFact,
  checkpoint: SignedCheckpoint,
  keys: TrustedKeys | undefined,
): FactCheck[] {
  const proof = fact.chain_proof;
  const computed = factCid(fact);
  const cidOk = computed === fact.cid && proof.cid === fact.cid;
  const results: FactCheck[] = [
    cidOk
      ? ['cid', 'ok', 'recomputed from the content']
      : [
          'cid',
          'fail',
          computed !== fact.cid
            ? `the content hashes to ${computed}, the fact says ${fact.cid}`
            : `chain_proof.cid ${proof.cid} is not the fact's ${fact.cid}`,
        ],
  ];
  const expectedId = factId(fact.cid);
  results.push(
    expectedId === fact.id
      ? ['id', 'ok', 'derived from the cid']
      : ['id', 'fail', `id ${fact.id} is not the one the cid gives (${expectedId})`],
  );
  if (proof.tree_size !== checkpoint.tree_size)
    results.push([
      'inclusion',
      'fail',
      `proof for ${proof.tree_size} facts, checkpoint of ${checkpoint.tree_size}`,
    ]);
  else if (
    verifyInclusion(
      factLeafHash(fact),
      proof.log_index,
      proof.tree_size,
      proof.inclusion_proof,
      checkpoint.root_hash,
    )
  )
    results.push([
      'inclusion',
      'ok',
      `leaf ${proof.log_index} of ${proof.tree_size} leads to the checkpoint root`,
    ]);
  else
    results.push([
      'inclusion',
      'fail',
      `the proof does not lead from leaf ${proof.log_index} to the checkpoint root ${checkpoint.root_hash}`,
    ]);
  results.push(originCheck(fact, checkpoint, keys));
  return results;
}

function originCheck(
  fact: ProvenFact,
  checkpoint: SignedCheckpoint,
  keys: TrustedKeys | undefined,
): FactCheck {
  const signature = fact.chain_proof.origin_sig;
  const own = fact.origin_sig;
  if (signature === null) return ['origin signature', 'skip', 'the fact carries no origin signature'];
  if (own === null || own.kid !== signature.kid || own.sig !== signature.sig)
    return ['origin signature', 'fail', "chain_proof.origin_sig is not the fact's origin_sig"];
  const origin = fact.origin_node_id;
  const candidates = new Map(keys?.get(origin) ?? []);
  // The node's own facts are signed with its node key: the checkpoint's key (pinned or not, reported above).
  if (origin === checkpoint.log_id) candidates.set(checkpoint.key_id, checkpoint.public_key);
  const key = candidates.get(signature.kid);
  if (key === undefined)
    return [
      'origin signature',
      'skip',
      `key ${signature.kid} of ${origin} is not known here (give that node's manifest with --manifest)`,
    ];
  const valid = originSignatureValid(fact, signature, publicKeyFromRaw(key));
  const which = `key ${describePublicKey(key).keyId} of ${origin}`;
  return valid
    ? ['origin signature', 'ok', `signed by ${which}`]
    : ['origin signature', 'fail', `the signature does not verify with ${which}`];
}
