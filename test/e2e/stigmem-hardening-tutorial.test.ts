// "Tutorial: Harden a Stigmem Deployment" (../shared/reference/stigmem-hardening-tutorial.txt), followed
// literally against `tessera serve`: each step runs the tutorial's own shell commands (openssl, curl, jq,
// the CLI) with only these substitutions, and checks the output the tutorial promises.
//   /etc/stigmem/tls                → a temp dir
//   localhost:8765 / localhost:8000 → the federation / API listener of the local node (ports chosen by the OS)
//   https://your-node.example.com   → the API listener (plain HTTP on loopback, as the tutorial's :8000)
//   docker compose exec … stigmem   → the `tessera` CLI with the node's environment
//   docker compose up -d / restart  → stop and start the local `tessera serve` process
// Step 7 (container image) has no container daemon here: deploy/ files are checked by test/deploy.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliProcess, startCli } from '../support/child.ts';
import { tutorialShell } from '../support/tutorial-shell.ts';

const ENTITY_URI = 'stigmem://your-org.example.com/nodes/primary';
const ADMIN_KEY = `adm_${randomBytes(24).toString('base64url')}`;
const seed = () => randomBytes(32).toString('base64url');

describe('the Stigmem hardening tutorial, step by step', { timeout: 300_000 }, () => {
  let root: string;
  let tlsDir: string;
  let node: CliProcess | undefined;
  let apiUrl = '';
  let federationUrl = '';
  // The operator's .env: what `docker compose up -d` would pass to the container.
  const dotenv: Record<string, string> = {};
  let sh: ReturnType<typeof tutorialShell>;
  let apiKey = '';
  let auditKey = '';

  const nodeEnv = () => ({
    ...dotenv,
    TESSERA_DATA_DIR: join(root, 'data'),
    TESSERA_ENTITY_URI: ENTITY_URI,
    TESSERA_API_PORT: '0',
    TESSERA_FEDERATION_PORT: '0',
    TESSERA_LOG_LEVEL: 'info',
  });
  const up = async () => {
    node = startCli(['serve'], { env: nodeEnv() });
    const ready = await node.waitForEvent((e) => e.event === 'node_ready', 90_000);
    apiUrl = String(ready.api_url);
    federationUrl = String(ready.federation_url);
  };
  const down = async () => {
    await node?.stop();
    node = undefined;
  };
  const run = (script: string) =>
    sh(script, {
      env: nodeEnv(),
      urls: { api: apiUrl, federation: federationUrl },
      vars: { STIGMEM_ADMIN_KEY: ADMIN_KEY, API_KEY: apiKey, AUDIT_KEY: auditKey },
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-tutorial-'));
    tlsDir = join(root, 'etc', 'stigmem', 'tls');
    await mkdir(tlsDir, { recursive: true });
    sh = tutorialShell({ root, tlsDir });
    Object.assign(dotenv, {
      STIGMEM_ADMIN_KEY: ADMIN_KEY,
      STIGMEM_NODE_PRIVATE_KEY: seed(),
      STIGMEM_ISSUER_PRIVATE_KEY: seed(),
    });
  });
  after(async () => {
    await down();
    await rm(root, { recursive: true, force: true });
  });

  test('Step 1: the federation CA and a node certificate, with the entity URI as URI SAN', async () => {
    const out = await run(`
      mkdir -p /etc/stigmem/tls && cd /etc/stigmem/tls
      openssl genpkey -algorithm ed25519 -out ca.key
      openssl req -new -x509 -key ca.key -out ca.crt -days 3650 \\
        -subj "/CN=Stigmem Federation CA"
      ENTITY_URI="stigmem://your-org.example.com/nodes/primary"
      openssl genpkey -algorithm ed25519 -out node.key
      openssl req -new -key node.key -out node.csr \\
        -subj "/CN=stigmem-node" \\
        -addext "subjectAltName=URI:\${ENTITY_URI}"
      openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key \\
        -CAcreateserial -out node.crt -days 90 \\
        -extfile <(echo "subjectAltName=URI:\${ENTITY_URI}")
      echo "CA and node cert generated."
      openssl x509 -noout -subject -dates -ext subjectAltName -in node.crt
    `);
    assert.match(out, /CA and node cert generated\./);
    assert.match(out, /URI:stigmem:\/\/your-org\.example\.com\/nodes\/primary/);
  });

  test('Step 2: the node presents its certificate over mTLS and refuses plaintext', async () => {
    Object.assign(dotenv, {
      STIGMEM_TLS_CERT_PATH: join(tlsDir, 'node.crt'),
      STIGMEM_TLS_KEY_PATH: join(tlsDir, 'node.key'),
      STIGMEM_TLS_CA_BUNDLE: join(tlsDir, 'ca.crt'),
      STIGMEM_FEDERATION_INSECURE: '0',
    });
    await up();
    const presented = await run(`
      openssl s_client -connect localhost:8765 \\
        -cert /etc/stigmem/tls/node.crt \\
        -key /etc/stigmem/tls/node.key \\
        -CAfile /etc/stigmem/tls/ca.crt \\
        2>/dev/null | openssl x509 -noout -fingerprint -subject
    `);
    assert.match(presented, /sha1 Fingerprint=|SHA1 Fingerprint=/i);
    assert.match(presented, /subject=CN ?= ?stigmem-node/);
    const plaintext = await run(
      `curl http://localhost:8765/healthz 2>&1 | grep -i "empty reply\\|SSL\\|refused"`,
    );
    assert.ok(plaintext.trim().length > 0, 'curl reports an empty reply or a TLS error, not an HTTP 200');
    assert.doesNotMatch(plaintext, /"status":"ok"/);
  });

  let oldNodeKeyId = '';
  let newNodeKeyId = '';
  test('Step 3: rotate the Ed25519 identity key (dry run, commit, new secret, restart)', async () => {
    oldNodeKeyId = (
      await run('curl -s https://your-node.example.com/.well-known/stigmem-manifest.json | jq -r .key_id')
    ).trim();
    assert.match(oldNodeKeyId, /^[0-9a-f]{16}$/);

    const dry = await run(
      'docker compose exec stigmem-node \\\nstigmem identity rotate-key --kind node --dry-run',
    );
    assert.match(dry, /new key_id\s*:\s*[0-9a-f]{16}/);
    assert.match(dry, /DRY RUN/);
    const unchanged = (
      await run('curl -s https://your-node.example.com/.well-known/stigmem-manifest.json | jq -r .key_id')
    ).trim();
    assert.equal(unchanged, oldNodeKeyId, 'a dry run commits nothing');

    const out = await run('docker compose exec stigmem-node \\\nstigmem identity rotate-key --kind node');
    assert.match(out, /Key rotation \(node\) complete/);
    assert.match(out, new RegExp(`old key_id\\s*:\\s*${oldNodeKeyId}`));
    newNodeKeyId = /new key_id\s*:\s*([0-9a-f]{16})/.exec(out)?.[1] ?? '';
    assert.notEqual(newNodeKeyId, '');
    assert.notEqual(newNodeKeyId, oldNodeKeyId);
    assert.match(out, /dual-trust\s*:\s*\d{4}-\d\d-\d\dT/);
    assert.match(out, /manifest TL index\s*:\s*\d+/);
    assert.match(out, /rotation TL index\s*:\s*\d+/);
    assert.match(out, /ACTION REQUIRED/);
    const newSeed = /^STIGMEM_NODE_PRIVATE_KEY=([A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    assert.ok(newSeed, 'the new seed is printed once for the secrets manager');

    // "Update the secret and restart": the tutorial's sed on .env, then `docker compose up -d`.
    const envFile = join(root, '.env');
    await writeFile(envFile, `STIGMEM_NODE_PRIVATE_KEY=${dotenv.STIGMEM_NODE_PRIVATE_KEY}\n`);
    await run(`sed -i 's|^STIGMEM_NODE_PRIVATE_KEY=.*|STIGMEM_NODE_PRIVATE_KEY=${newSeed}|' ${envFile}`);
    dotenv.STIGMEM_NODE_PRIVATE_KEY = (await readFile(envFile, 'utf8')).trim().split('=')[1] as string;
    await down();
    await up();
    assert.ok(
      !node?.stdout().includes(newSeed) && !node?.stderr().includes(newSeed),
      'the node never logs its seed',
    );

    const live = (
      await run('curl -s https://your-node.example.com/.well-known/stigmem-manifest.json | jq .key_id')
    ).trim();
    assert.equal(live, JSON.stringify(newNodeKeyId));
  });

  let preRotationToken = '';
  test('Step 4: rotate the capability issuer key; tokens issued before still verify', async () => {
    preRotationToken = (
      await run(`curl -s -X POST http://localhost:8000/v1/capabilities \\
        -H "Authorization: Bearer $STIGMEM_ADMIN_KEY" -H "Content-Type: application/json" \\
        -d '{"subject":"stigmem://your-org.example.com/agent","verb":"read","object":"stigmem://test/*","ttl_seconds":3600}' \\
        | jq -r .token`)
    ).trim();
    assert.ok(preRotationToken.length > 20);

    const out = await run('docker compose exec stigmem-node \\\nstigmem identity rotate-key --kind issuer');
    assert.match(out, /Key rotation \(issuer\) complete/);
    const until = /dual-trust\s*:\s*(\S+)/.exec(out)?.[1] ?? '';
    assert.ok(Date.parse(until) - Date.now() >= 90 * 86_400_000 - 60_000, 'the issuer window is ≥ 90 days');
    const newSeed = /^STIGMEM_ISSUER_PRIVATE_KEY=([A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    assert.ok(newSeed);
    dotenv.STIGMEM_ISSUER_PRIVATE_KEY = newSeed;
    await down();
    await up();

    // Post-rotation checklist: manifest reflects the new key, /healthz 200, capability tokens verify.
    const health = await run('curl -s -o /dev/null -w "%{http_code}" https://your-node.example.com/healthz');
    assert.equal(health.trim(), '200');
    const verified = await run(`stigmem capability verify '${preRotationToken}'`);
    assert.match(verified, /valid/i);
    assert.match(verified, /retiring|dual[- ]trust/i, 'verified by the retiring key, inside its window');
    const forged = await run(
      `stigmem capability verify '${preRotationToken.slice(0, -4)}AAAA' || echo "exit=$?"`,
    );
    assert.match(forged, /exit=1/);
    assert.match(forged, /signature/i);
  });

  test('Step 5: raised ceilings, and the 200-write loop of a fresh key sees a 429 with the promised body', async () => {
    dotenv.STIGMEM_RATE_LIMIT_WRITE_PER_HOUR = '10000';
    dotenv.STIGMEM_RATE_LIMIT_READ_PER_HOUR = '50000';
    await down();
    await up();
    apiKey = (
      await run(`curl -s -X POST http://localhost:8000/v1/admin/api-keys \\
        -H "Authorization: Bearer $STIGMEM_ADMIN_KEY" -H "Content-Type: application/json" \\
        -d '{"entity_uri":"stigmem://your-org.example.com/agent","permissions":["read","write"]}' | jq -r '.key'`)
    ).trim();
    assert.match(apiKey, /^tsk_/);
    const loop = await run(`
      for i in $(seq 1 200); do
      STATUS=$(curl -s -o /dev/null -w "%{http_code}" \\
        -X POST http://localhost:8000/v1/facts \\
        -H "Authorization: Bearer $API_KEY" \\
        -H "Content-Type: application/json" \\
        -d "{\\"entity\\":\\"stigmem://test/e\${i}\\",\\"relation\\":\\"seq\\",\\"value\\":\\"\${i}\\",\\"scope\\":\\"team\\"}")
      [[ "$STATUS" == "429" ]] && echo "429 at write \${i}" && break
      done
    `);
    assert.match(loop, /^429 at write \d+$/m);
    // The body the tutorial shows: the bucket refills at 10 000/h (one write per 0.36 s), so on a slow
    // machine the next write may pass; write until one is refused and read that answer.
    const body = JSON.parse(
      await run(`for i in $(seq 1 50); do
        OUT=$(curl -s -w "\\n%{http_code}" -X POST http://localhost:8000/v1/facts -H "Authorization: Bearer $API_KEY" \\
          -H "Content-Type: application/json" -d "{\\"entity\\":\\"stigmem://test/x\${i}\\",\\"relation\\":\\"seq\\",\\"value\\":\\"x\\",\\"scope\\":\\"team\\"}")
        [[ "\${OUT##*$'\\n'}" == "429" ]] && echo "\${OUT%$'\\n'*}" && break
      done`),
    );
    assert.equal(body.error, 'quota_exceeded');
    assert.equal(body.dimension, 'fact_write');
    assert.equal(body.principal, 'stigmem://your-org.example.com/agent');
    assert.equal(typeof body.retry_after, 'number');
  });

  test('Step 6: an audit.read key sees fact_write and quota_breach; another key gets the promised 403', async () => {
    auditKey = (
      await run(`curl -s -X POST http://localhost:8000/v1/admin/api-keys \\
        -H "Authorization: Bearer $STIGMEM_ADMIN_KEY" \\
        -H "Content-Type: application/json" \\
        -d '{"entity_uri":"stigmem://your-org.example.com/siem-reader","permissions":["audit.read"]}' \\
        | jq -r '.key'`)
    ).trim();
    const echoed = await run('echo "Audit key: $AUDIT_KEY"');
    assert.match(echoed, /^Audit key: tsk_/);
    const entries = await run(`curl -s "http://localhost:8000/v1/admin/audit?limit=10" \\
      -H "Authorization: Bearer $AUDIT_KEY" \\
      | jq -c '.entries[] | {seq, event_type, ts}'`);
    const rows = entries
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.ok(rows.length > 0 && rows.every((r) => Number.isInteger(r.seq) && r.event_type && r.ts));
    assert.ok(
      rows.some((r) => r.event_type === 'fact_write'),
      `fact_write among the first entries: ${entries}`,
    );
    const breaches = JSON.parse(
      await run(`curl -s "http://localhost:8000/v1/admin/audit?event_type=quota_breach&limit=100" \\
        -H "Authorization: Bearer $AUDIT_KEY" \\
        | jq '[.entries[] | .entity_uri] | group_by(.) | map({principal: .[0], count: length}) | sort_by(-.count)'`),
    );
    assert.equal(breaches[0]?.principal, 'stigmem://your-org.example.com/agent');
    const refused = JSON.parse(
      await run(`curl -s http://localhost:8000/v1/admin/audit \\
        -H "Authorization: Bearer $API_KEY" \\
        | jq .`),
    );
    assert.equal(refused.detail, 'audit.read capability required');
  });

  test('Final verification: every check of the tutorial passes', async () => {
    const mtls = await run(`openssl s_client -connect localhost:8765 \\
      -cert /etc/stigmem/tls/node.crt -key /etc/stigmem/tls/node.key \\
      -CAfile /etc/stigmem/tls/ca.crt 2>/dev/null | grep "Verify return code: 0"`);
    assert.match(mtls, /Verify return code: 0 \(ok\)/);
    const rotations = await run(`curl -s https://your-node.example.com/.well-known/stigmem-manifest.json \\
      | jq '.rotation_events | length'`);
    assert.ok(Number(rotations) >= 1, `rotation_events: ${rotations}`);
    const breaches =
      await run(`curl -s "http://localhost:8000/v1/admin/audit?event_type=quota_breach&limit=1" \\
      -H "Authorization: Bearer $AUDIT_KEY" | jq '.total'`);
    assert.ok(Number(breaches) >= 1, `quota_breach total: ${breaches}`);
    const health = await run('curl -s https://your-node.example.com/healthz | jq .status');
    assert.equal(health.trim(), '"ok"');
    const proof = JSON.parse(
      await run(`curl -s https://your-node.example.com/v1/recall \\
        -H "Authorization: Bearer $STIGMEM_ADMIN_KEY" \\
        -H "Stigmem-Verify: full" \\
        -H "Content-Type: application/json" \\
        -d '{"query":"hardening check","scope":"company","token_budget":1000}' \\
        | jq '.chain_proof'`),
    );
    assert.ok(proof && typeof proof === 'object', 'a chain proof (the signed checkpoint) is returned');
    // …and the answer verifies offline, fact by fact (the facts of Step 5 match "seq").
    const verified = await run(`curl -s https://your-node.example.com/v1/recall \\
      -H "Authorization: Bearer $STIGMEM_ADMIN_KEY" -H "Stigmem-Verify: full" -H "Content-Type: application/json" \\
      -d '{"query":"seq","scope":"team","token_budget":1000}' > recall.json
      tessera verify-proof recall.json --node-key "$(curl -s https://your-node.example.com/.well-known/stigmem-manifest.json | jq -r .public_key)"`);
    assert.match(verified, /^ok {3}fact 0 .*: inclusion: leaf \d+ of \d+ leads to the checkpoint root$/m);
    assert.match(verified, /^verify-proof OK: [1-9]\d* facts?, \d+ checks passed, 0 failed/m);
    assert.doesNotMatch(verified, /^FAIL/m);
  });
});
