// Steps 3 and 4 of the Stigmem hardening tutorial and its final check, literally, against real processes:
// a node whose node and issuer keys are STIGMEM_* secrets; `identity rotate-key --dry-run` writes nothing;
// the rotation prints the tutorial's lines and the new seed once; the running node keeps its key (and
// says a rotation is pending); after the secrets are replaced and the node restarted, the manifest serves
// the new key_id with the rotation events, a peer that approved the old key accepts the new one while
// keeping the old until the dual-trust end, and `capability verify` accepts a token issued before the
// rotation and refuses a revoked, tampered, expired, unknown-key or malformed one naming why. No seed
// ever reaches a log. A restart with the replaced secret works inside its window and is refused once the
// log has moved past it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { mintCapabilityToken } from '../../src/node/features/capabilities/token.ts';
import { type SignedManifest, verifyManifest } from '../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../../src/node/features/identity/node-key.ts';
import { planPeerKeyUpdate } from '../../src/node/features/rotation/peer-keys.ts';
import { type CliProcess, runCli, startCli } from '../support/child.ts';

const ENTITY = 'stigmem://your-org.example.com/nodes/primary';
const ADMIN_KEY = 'stigmem-admin-key-0123456789abcdef';
const DAY_MS = 86_400_000;

const newSeed = () => randomBytes(32).toString('base64url');
const keyOf = (seed: string) => loadOrCreateNodeKey({ dataDir: '', privateKeyB64: seed });

describe('Stigmem tutorial steps 3–4: rotating keys given as STIGMEM_* secrets', () => {
  let root: string;
  let base: Record<string, string>;
  const seeds = { node: newSeed(), issuer: newSeed() };
  const rotated: { node?: string | undefined; issuer?: string | undefined } = {};
  const nodes: CliProcess[] = [];
  const cliOutput: string[] = [];
  let oldNode: NodeKey;
  let oldIssuer: NodeKey;
  let node: { proc: CliProcess; apiUrl: string };
  let beforeRotation: string;
  let revoked: string;
  let nodeDualTrust: string;
  let issuerDualTrust: string;

  /** The secrets in the operator's .env now (what `docker compose exec` would pass to a command). */
  let installed = { ...seeds };
  const env = (nodeSeed = installed.node, issuerSeed = installed.issuer) => ({
    ...base,
    STIGMEM_NODE_PRIVATE_KEY: nodeSeed,
    STIGMEM_ISSUER_PRIVATE_KEY: issuerSeed,
  });
  const cli = async (args: string[], options: { env?: Record<string, string>; input?: string } = {}) => {
    const run = await runCli(args, {
      env: options.env ?? env(),
      ...(options.input ? { input: options.input } : {}),
    });
    cliOutput.push(run.stdout, run.stderr);
    return run;
  };
  const start = async (nodeSeed: string, issuerSeed: string) => {
    const proc = startCli(['serve'], { env: env(nodeSeed, issuerSeed) });
    nodes.push(proc);
    const ready = await proc.waitForEvent((e) => e.event === 'node_ready', 90_000);
    return { proc, apiUrl: ready.api_url as string };
  };
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(new URL(path, node.apiUrl), {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };
  const manifest = async () =>
    (await call('GET', '/.well-known/stigmem-manifest.json')).body as SignedManifest;
  const issue = async (object: string) => {
    const issued = await call('POST', '/v1/capabilities', {
      subject: 'acme:agent/reporter',
      verb: 'read',
      object,
      ttl_seconds: 86_400,
    });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    return issued.body as { id: string; token: string };
  };
  /** The data dir's files other than the database (which the running node writes), with contents. */
  const keyState = async () => {
    const dir = base.TESSERA_DATA_DIR as string;
    const files: Record<string, string> = {};
    for (const name of (await readdir(dir)).sort())
      if (!name.startsWith('tessera.db')) files[name] = await readFile(join(dir, name), 'utf8');
    return files;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-rotation-'));
    base = {
      TESSERA_DATA_DIR: join(root, 'data'),
      TESSERA_ENTITY_URI: ENTITY,
      TESSERA_API_PORT: '0',
      // The strictest level: even per-request lines must not carry a seed.
      TESSERA_LOG_LEVEL: 'debug',
      STIGMEM_FEDERATION_ENABLED: 'false',
      STIGMEM_ADMIN_KEY: ADMIN_KEY,
      STIGMEM_TL_BACKEND: 'local',
    };
    oldNode = await keyOf(seeds.node);
    oldIssuer = await keyOf(seeds.issuer);
    node = await start(seeds.node, seeds.issuer);
    beforeRotation = (await issue('acme:report/42')).token;
    const toRevoke = await issue('acme:report/43');
    revoked = toRevoke.token;
    const revocation = await call('POST', `/v1/capabilities/${toRevoke.id}/revoke`, { reason: 'leaked' });
    assert.equal(revocation.status, 200, JSON.stringify(revocation.body));
  });
  after(async () => {
    for (const proc of nodes) await proc.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('step 3 dry run: the rotation shown, nothing written, no seed; an unwritable TL path is an error', async () => {
    const state = await keyState();
    const dry = await cli(['identity', 'rotate-key', '--kind', 'node', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^DRY RUN — nothing was written/m);
    assert.match(dry.stdout, new RegExp(`^old key_id : ${oldNode.keyId}$`, 'm'));
    assert.match(dry.stdout, /^new key_id : [0-9a-f]{16}$/m);
    assert.match(dry.stdout, /^manifest TL index : 0 \(would be\)$/m);
    assert.match(dry.stdout, /^rotation TL index : 1 \(would be\)$/m);
    assert.doesNotMatch(dry.stdout, /STIGMEM_NODE_PRIVATE_KEY=/, 'a dry run prints no seed');
    assert.deepEqual(await keyState(), state);

    // "If the dry run reports a transparency-log error, check that the TL backend is reachable."
    const notADir = join(root, 'not-a-dir');
    await writeFile(notADir, 'x');
    const broken = await cli(['identity', 'rotate-key', '--kind', 'node', '--dry-run'], {
      env: { ...env(), STIGMEM_TL_LOCAL_PATH: join(notADir, 'tlog.jsonl') },
    });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^tessera: write_failed: the transparency log .* cannot be written/);
    assert.deepEqual(await keyState(), state);
  });

  test('step 3: the rotation prints the tutorial lines and the new seed once; the running node keeps its key', async () => {
    const run = await cli(['identity', 'rotate-key', '--kind', 'node']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^Key rotation \(node\) complete$/m);
    assert.match(run.stdout, new RegExp(`^old key_id : ${oldNode.keyId}$`, 'm'));
    const newId = /^new key_id : ([0-9a-f]{16})$/m.exec(run.stdout)?.[1];
    nodeDualTrust = /^dual-trust : (\S+)$/m.exec(run.stdout)?.[1] as string;
    assert.ok(Date.parse(nodeDualTrust) - Date.now() > 6.9 * DAY_MS, 'the 7-day node default');
    assert.match(nodeDualTrust, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339 as the tutorial prints it');
    assert.match(run.stdout, /^manifest TL index : 0$/m);
    assert.match(run.stdout, /^rotation TL index : 1$/m);
    assert.match(run.stdout, /^ACTION REQUIRED — update your secrets manager with the new private key:$/m);
    const lines = run.stdout.split('\n').filter((line) => line.startsWith('STIGMEM_NODE_PRIVATE_KEY='));
    assert.equal(lines.length, 1, 'the seed line once, under the name the operator uses');
    rotated.node = lines[0]?.slice('STIGMEM_NODE_PRIVATE_KEY='.length);
    assert.equal((await keyOf(rotated.node as string)).keyId, newId, 'the seed is the new key');
    assert.equal(run.stdout.split(rotated.node as string).length, 2, 'the seed appears once');

    // The running node is not broken: it keeps the key it has and says what the operator must do.
    const pending = await node.proc.waitForEvent(
      (e) => e.event === 'key_rotation_pending' && e.kind === 'node',
      60_000,
    );
    assert.equal(pending.new_key_id, newId);
    assert.equal(pending.dual_trust_until, new Date(nodeDualTrust).toISOString());
    assert.equal((await manifest()).key_id, oldNode.keyId);
    assert.equal((await call('GET', '/healthz')).body.status, 'ok');
  });

  test('step 4: the issuer key, with the 90-day floor the CLI enforces', async () => {
    const short = await cli(['identity', 'rotate-key', '--kind', 'issuer', '--dual-trust-days', '30']);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^tessera: dual_trust_too_short: .*at least 90 days/);

    const run = await cli(['identity', 'rotate-key', '--kind', 'issuer']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Key rotation \(issuer\) complete$/m);
    assert.match(run.stdout, new RegExp(`^old key_id : ${oldIssuer.keyId}$`, 'm'));
    issuerDualTrust = /^dual-trust : (\S+)$/m.exec(run.stdout)?.[1] as string;
    assert.ok(Date.parse(issuerDualTrust) - Date.now() > 89.9 * DAY_MS, 'at least 90 days');
    assert.match(run.stdout, /^manifest TL index : 2$/m);
    assert.match(run.stdout, /^rotation TL index : 3$/m);
    rotated.issuer = /^STIGMEM_ISSUER_PRIVATE_KEY=(\S+)$/m.exec(run.stdout)?.[1];
    assert.ok(rotated.issuer);
    assert.equal((await keyOf(rotated.issuer)).keyId, /^new key_id : ([0-9a-f]{16})$/m.exec(run.stdout)?.[1]);
  });

  test('secrets replaced and node restarted: the manifest serves the new key_id with its rotation events; a peer accepts it and the old key until the dual-trust end', async () => {
    await node.proc.stop();
    installed = { node: rotated.node as string, issuer: rotated.issuer as string };
    node = await start(installed.node, installed.issuer);
    const served = await manifest();
    const newNode = await keyOf(rotated.node as string);
    const newIssuer = await keyOf(rotated.issuer as string);
    // curl …/.well-known/stigmem-manifest.json | jq .key_id  /  jq '.rotation_events | length'
    assert.equal(served.key_id, newNode.keyId);
    assert.equal(served.issuer_key_id, newIssuer.keyId);
    assert.ok(served.rotation_events.length >= 1);
    assert.equal(served.rotation_events.length, 2, 'the node and the issuer rotation');
    verifyManifest(served, { now: new Date(), expectedEntityUri: ENTITY });
    assert.equal((await call('GET', '/healthz')).body.status, 'ok');

    // What a peer that approved the old node key concludes from this manifest.
    const now = new Date();
    const plan = planPeerKeyUpdate(
      { id: 'p1', entityUri: ENTITY, publicKey: oldNode.publicKeyB64, keyId: oldNode.keyId },
      [],
      served,
      now,
    );
    assert.equal(plan.node?.keyId, newNode.keyId, 'the new node key is proven by the signed event');
    const records = plan.records.map((r) => [r.kind, r.keyId, r.notAfter]);
    assert.deepEqual(
      records.sort(),
      [
        ['issuer', newIssuer.keyId, null],
        ['issuer', oldIssuer.keyId, new Date(issuerDualTrust).toISOString()],
        ['node', oldNode.keyId, new Date(nodeDualTrust).toISOString()],
      ].sort(),
      'the old keys stay accepted until their dual-trust end',
    );
  });

  test('capability verify: a token from before the rotation verifies (dual trust); revoked, tampered, expired, unknown-key and malformed ones exit 1 naming why', async () => {
    const ok = await cli(['capability', 'verify', '-'], { input: `${beforeRotation}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^capability token: VALID$/m);
    assert.match(ok.stdout, new RegExp(`^issuer +: ${ENTITY} \\(this node\\)$`, 'm'));
    assert.match(
      ok.stdout,
      new RegExp(
        `^key_id +: ${oldIssuer.keyId} \\(retiring issuer key, trusted until ${new Date(issuerDualTrust).toISOString()}\\)$`,
        'm',
      ),
    );
    assert.match(ok.stdout, /^permission : read on acme:report\/42$/m);
    assert.match(ok.stdout, /^revoked +: no$/m);

    const fresh = (await issue('acme:report/44')).token;
    const current = await cli(['capability', 'verify', fresh, '--json']);
    assert.equal(current.code, 0, current.stderr);
    const json = JSON.parse(current.stdout);
    assert.equal(json.valid, true);
    assert.equal(json.key_status, 'current');
    assert.equal(json.key_id, (await keyOf(rotated.issuer as string)).keyId);

    const gone = await cli(['capability', 'verify', revoked]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^tessera: revoked: capability .* was revoked at /);
    assert.match(gone.stdout, /^revoked +: YES, at .* \(leaked\)$/m);

    const [header, payload, signature] = beforeRotation.split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString('utf8'));
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, object: 'acme:report/*' })).toString('base64url')}.${signature}`;
    const tampered = await cli(['capability', 'verify', forged]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /^tessera: signature_invalid: /);

    const issuerKey = await keyOf(rotated.issuer as string);
    const { token: stale } = await mintCapabilityToken({
      issuerKey,
      issuer: ENTITY,
      subject: 'acme:agent/reporter',
      verb: 'read',
      object: 'acme:report/42',
      issuedAt: new Date(Date.now() - 2 * DAY_MS),
      expiresAt: new Date(Date.now() - DAY_MS),
    });
    const expired = await cli(['capability', 'verify', stale]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /^tessera: expired: the capability expired at /);
    assert.match(expired.stdout, /^expires at : .* \(EXPIRED .* ago\)$/m);

    const { token: foreign } = await mintCapabilityToken({
      issuerKey: await keyOf(newSeed()),
      issuer: ENTITY,
      subject: 'acme:agent/reporter',
      verb: 'read',
      object: 'acme:report/42',
      issuedAt: new Date(),
      expiresAt: new Date(Date.now() + DAY_MS),
    });
    const unknown = await cli(['capability', 'verify', foreign]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^tessera: unknown_key: key [0-9a-f]{16} is not an issuer key /);

    const garbage = await cli(['capability', 'verify', 'not-a-token']);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /^tessera: malformed: the token is not a JWT$/m);

    for (const token of [beforeRotation, fresh, revoked, forged, stale, foreign])
      for (const part of token.split('.').filter((p) => p.length > 40))
        assert.ok(!cliOutput.join('').includes(part), 'no part of a token is ever printed back');
  });

  test('a restart with the replaced node secret works inside its window (and says so); once the log moved past it, the start is refused', async () => {
    await node.proc.stop();
    node = await start(seeds.node, rotated.issuer as string);
    const warned = await node.proc.waitForEvent((e) => e.event === 'key_rotation_pending', 10_000);
    assert.equal(warned.kind, 'node');
    assert.match(String(warned.msg), /STIGMEM_NODE_PRIVATE_KEY\) still holds the old key/);
    assert.equal((await manifest()).key_id, oldNode.keyId, 'it keeps signing with the key it has');
    await node.proc.stop();

    // The operator rotates again from the installed key: the first one is now retired for good.
    const again = await cli(['identity', 'rotate-key', '--kind', 'node']);
    assert.equal(again.code, 0, again.stderr);
    const refused = startCli(['serve'], { env: env(seeds.node, rotated.issuer as string) });
    nodes.push(refused);
    const { code } = await refused.exited;
    assert.equal(code, 1);
    assert.match(
      refused.stderr(),
      new RegExp(
        `NODE_KEY_RETIRED: .*STIGMEM_NODE_PRIVATE_KEY\\) holds the node key ${oldNode.keyId}, which \`tessera identity rotate-key\` replaced`,
      ),
    );
  });

  test('no seed, old or new, ever reached a log or stderr', () => {
    const secrets = [seeds.node, seeds.issuer, rotated.node, rotated.issuer].filter(
      (s): s is string => s !== undefined,
    );
    assert.equal(secrets.length, 4);
    for (const proc of nodes)
      for (const secret of secrets) {
        assert.ok(!proc.stdout().includes(secret), 'not in the node log');
        assert.ok(!proc.stderr().includes(secret), 'not on the node stderr');
      }
    const stderrs = cliOutput.filter((_, i) => i % 2 === 1).join('');
    for (const secret of secrets) assert.ok(!stderrs.includes(secret), 'not on a command stderr');
  });
});
