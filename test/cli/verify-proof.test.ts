// The Stigmem tutorial's final verification, step 6, against a real `tessera serve` over HTTP (STIGMEM_*
// settings, as an operator of the tutorial has them): its exact recall request answers a non-null
// `.chain_proof`, before any fact and after; then `tessera verify-proof` (a real child process) checks the
// saved answer offline: exit 0 with one line per check, --json, from stdin as a pipe from curl would give
// it; exit 1 naming the failed check for a tampered answer, for --strict with a check it could not make,
// and for input that is no proof at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { EMPTY_ROOT } from '../../src/node/features/fact-log/merkle.ts';
import { CLI_MAIN, type CliProcess, runCli, startCli } from '../support/child.ts';

const ENTITY = 'stigmem://your-org.example.com/nodes/primary';
const STIGMEM_ADMIN_KEY = 'stigmem-admin-key-recall-0123456789';
// The tutorial's body, byte for byte.
const TUTORIAL_BODY = '{"query":"hardening check","scope":"company","token_budget":1000}';

/** `tessera verify-proof -` with `input` on stdin, as `curl … | tessera verify-proof -` runs it. */
async function verifyFromStdin(input: string, args: string[] = []) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), CLI_MAIN, 'verify-proof', '-', ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

describe("the tutorial's recall with Stigmem-Verify: full, and tessera verify-proof", () => {
  let root: string;
  let node: CliProcess;
  let apiUrl: string;
  let manifestFile: string;

  /** The tutorial's curl: POST /v1/recall with its three headers and its body. */
  const tutorialRecall = async () => {
    const response = await request(new URL('/v1/recall', apiUrl), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${STIGMEM_ADMIN_KEY}`,
        'Stigmem-Verify': 'full',
        'Content-Type': 'application/json',
      },
      body: TUTORIAL_BODY,
    });
    return { status: response.statusCode, text: await response.body.text() };
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-verify-proof-'));
    node = startCli(['serve'], {
      env: {
        TESSERA_DATA_DIR: join(root, 'data'),
        TESSERA_ENTITY_URI: ENTITY,
        TESSERA_API_PORT: '0',
        TESSERA_LOG_LEVEL: 'info',
        STIGMEM_FEDERATION_ENABLED: 'false',
        STIGMEM_ADMIN_KEY,
      },
    });
    const ready = await node.waitForEvent((e) => e.event === 'node_ready', 60_000);
    apiUrl = ready.api_url as string;
    const manifest = await request(new URL('/.well-known/stigmem-manifest.json', apiUrl));
    manifestFile = join(root, 'manifest.json');
    await writeFile(manifestFile, await manifest.body.text());
  });
  after(async () => {
    await node?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('before any fact: 200, no facts, and .chain_proof is the signed checkpoint of the empty log', async () => {
    const { status, text } = await tutorialRecall();
    assert.equal(status, 200, text);
    const body = JSON.parse(text);
    assert.deepEqual(body.facts, []);
    assert.notEqual(body.chain_proof, null);
    assert.equal(body.chain_proof.checkpoint.log_id, ENTITY);
    assert.equal(body.chain_proof.checkpoint.tree_size, 0);
    assert.equal(body.chain_proof.checkpoint.root_hash, EMPTY_ROOT);
  });

  test('after writes: the matching facts with their proofs, and verify-proof passes every check', async () => {
    for (const value of ['hardening check passed', 'unrelated', 'check of hardening: ok']) {
      const written = await request(new URL('/v1/facts', apiUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${STIGMEM_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ entity: 'stigmem://test/e1', relation: 'seq', value, scope: 'company' }),
      });
      assert.equal(written.statusCode, 201, await written.body.text());
    }
    const { status, text } = await tutorialRecall();
    assert.equal(status, 200, text);
    const body = JSON.parse(text);
    assert.equal(body.facts.length, 2);
    assert.equal(body.chain_proof.checkpoint.tree_size, 3);
    const file = join(root, 'recall.json');
    await writeFile(file, text);

    const checked = await runCli(['verify-proof', file, '--manifest', manifestFile]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(checked.stderr, '');
    const lines = checked.stdout.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^ok   checkpoint: signature: log ${ENTITY}, 3 facts`));
    assert.match(
      lines[1]!,
      new RegExp(`^ok   checkpoint: key: key [0-9a-f]{16} is a node key of ${ENTITY}$`),
    );
    for (const check of ['cid', 'id', 'inclusion', 'origin signature'])
      assert.equal(
        lines.filter((l) => l.startsWith('ok   fact ') && l.includes(`: ${check}: `)).length,
        2,
        check,
      );
    assert.equal(lines.at(-1), 'verify-proof OK: 2 facts, 10 checks passed, 0 failed, 0 skipped');

    const json = await runCli(['verify-proof', file, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const verdict = JSON.parse(json.stdout);
    assert.equal(verdict.ok, true);
    assert.equal(verdict.facts, 2);
    assert.deepEqual(
      verdict.checks
        .filter((c: { status: string }) => c.status !== 'ok')
        .map((c: { check: string }) => c.check),
      ['key'],
      'without a manifest only the checkpoint key is left unchecked',
    );

    const piped = await verifyFromStdin(text, ['--strict', '--manifest', manifestFile]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /verify-proof OK: 2 facts, 10 checks passed/);
  });

  test('a tampered answer: exit 1, the failing check named on stderr', async () => {
    const text = await readFile(join(root, 'recall.json'), 'utf8');
    const tampered = text.replace('hardening check passed', 'hardening check failed');
    assert.notEqual(tampered, text);
    const result = await verifyFromStdin(tampered, ['--manifest', manifestFile]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^FAIL fact \d sha256:[0-9a-f]{64}: cid: the content hashes to /m);
    assert.match(result.stdout, /verify-proof FAILED: 2 facts, 9 checks passed, 1 failed, 0 skipped/);
    assert.match(
      result.stderr,
      /^tessera: proof_invalid: fact \d sha256:[0-9a-f]{64}: cid: the content hashes to /,
    );
  });

  test('--strict fails a check it could not make; --node-key pins the key as a manifest does', async () => {
    const file = join(root, 'recall.json');
    const strict = await runCli(['verify-proof', file, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(
      strict.stderr,
      new RegExp(`^tessera: proof_invalid: checkpoint: key: no key of ${ENTITY} was given`),
    );
    const key = JSON.parse(await readFile(manifestFile, 'utf8')).public_key as string;
    const pinned = await runCli(['verify-proof', file, '--strict', '--node-key', key]);
    assert.equal(pinned.code, 0, pinned.stderr);
  });

  test('input that is no proof: exit 1 with its reason, nothing checked', async () => {
    const notJson = await verifyFromStdin('hardening check');
    assert.equal(notJson.code, 1);
    assert.equal(notJson.stderr, 'tessera: proof_malformed: stdin is not valid JSON\n');
    const plain = await verifyFromStdin('{"facts":[],"tokens_used":0,"token_budget":1000,"truncated":false}');
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      /^tessera: proof_invalid: document: document: not a recall answer with proofs/,
    );
    const missing = await runCli(['verify-proof', join(root, 'absent.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^tessera: proof_malformed: cannot read .*absent\.json \(ENOENT\)/);
    const badKey = await runCli(['verify-proof', join(root, 'recall.json'), '--node-key', 'not-a-key']);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /^tessera: node_key_invalid: /);
  });
});
