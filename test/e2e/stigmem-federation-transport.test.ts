// The Stigmem seed document "mTLS Federation Transport" (../shared/reference/stigmem-mtls-federation-transport.txt),
// followed step by step against real `tessera serve` processes: its openssl recipe, its STIGMEM_* exports
// (paths and ports substituted), its claims about the server, the pull loop, the cipher policy, plaintext and
// the insecure mode, SAN validation, its rotation procedure (file watcher, then `kill -HUP $(cat PIDFILE)`),
// its `openssl s_client | openssl x509` check, its troubleshooting cases, and its Docker Compose section with
// local processes in place of Docker. Shell commands of the document run as shell commands (bash, openssl,
// curl); each step asserts the output the document promises.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SignedManifest } from '../../src/node/features/identity/manifest.ts';
import { inspectCertificates } from '../../src/pki/inspect.ts';
import { runCli, startCli } from '../support/child.ts';
import { alive, COMPOSE_DIR, GEN_CERTS, loadCompose, runSmoke } from '../support/deploy.ts';
import {
  addAndApprove,
  fact,
  federationGet,
  type NodeProcess,
  peerToken,
  startNodeProcess,
} from '../support/node-process.ts';
import { openssl, type RecipeNode, stigmemLeaves, stigmemRecipe } from '../support/openssl.ts';
import { freshRequest, until } from '../support/reload.ts';
import { bash, curl, run } from '../support/shell.ts';

const ORG = 'stigmem://your-org.example.com/nodes';
const A = `${ORG}/a`;
const B = `${ORG}/b`;
/** The document's `client.crt` / `client.key`: any certificate of the federation CA. */
const CLIENT = `${ORG}/operator`;
const PERMITTED_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'];

/** The document's own check: `openssl s_client … | openssl x509 -noout -fingerprint -dates`. */
function presentedCertificate(port: string, client: RecipeNode) {
  return bash(
    `openssl s_client -connect 127.0.0.1:${port} -cert '${client.certPath}' -key '${client.keyPath}' ` +
      `-CAfile '${client.caPath}' 2>/dev/null </dev/null | openssl x509 -noout -fingerprint -dates`,
  );
}

/** What the same `openssl x509 -noout -fingerprint -dates` prints for a certificate file. */
async function certificateLines(certPath: string): Promise<string> {
  return (await openssl(['x509', '-in', certPath, '-noout', '-fingerprint', '-dates'])).stdout;
}

/** `openssl s_client` with extra options, stdin closed at once (the handshake, then quit). */
function sClient(port: string, args: string[]) {
  return run('/usr/bin/openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
    timeoutMs: 30_000,
  });
}

/** The node logged a refusal with this reason (waits: the log line follows the client's failure). */
function refused(node: NodeProcess, reason: string) {
  return node.proc.waitForEvent((e) => e.event === 'tls_peer_rejected' && e.reason === reason, 20_000);
}

describe('"mTLS Federation Transport", followed literally against Tessera', () => {
  let root: string;
  let tls: string;
  let node: (name: string) => RecipeNode;
  let otherCa: (name: string) => RecipeNode;
  let a: NodeProcess;
  let b: NodeProcess;
  let aPort: string;
  let bPort: string;
  const pidFile = (name: string) => join(root, `${name}.pid`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-e2e-transport-'));
    tls = join(root, 'tls');
    // "Provisioning node certificates": step 1 (the CA) and step 2 for each node, run as written, each
    // node in its own directory (the recipe's file names are the same for every node).
    ({ node } = await stigmemRecipe(tls, [
      { name: 'a', uri: A },
      { name: 'b', uri: B },
      { name: 'operator', uri: CLIENT },
    ]));
    // Troubleshooting's other CA: a certificate that chains to a CA the nodes do not trust.
    ({ node: otherCa } = await stigmemRecipe(join(root, 'other-ca'), [
      { name: 'x', uri: 'stigmem://elsewhere.example/nodes/x' },
    ]));
    // Node B reads its material through symlinks in a directory of their own (as a secret volume does), so
    // that rewriting the files behind them is seen by SIGHUP or the 5 s poll, not the directory watch.
    const live = join(root, 'b-live');
    await mkdir(live);
    for (const [link, target] of [
      ['node.crt', node('b').certPath],
      ['node.key', node('b').keyPath],
      ['ca.crt', node('b').caPath],
    ] as const)
      await symlink(target, join(live, link));
    // "3. Configure the node": STIGMEM_TLS_CERT_PATH / _KEY_PATH / _CA_BUNDLE (paths substituted), plus the
    // one setting Stigmem does not have (the entity URI) and a PID file for `kill -HUP $(cat …)`.
    const start = (name: 'a' | 'b', entityUri: string, paths: RecipeNode) =>
      startNodeProcess({
        name,
        root,
        entityUri,
        stigmemTlsEnv: true,
        reuse: { apiKey: randomBytes(24).toString('base64url'), tls: paths },
        env: { TESSERA_PID_FILE: pidFile(name) },
      });
    [a, b] = await Promise.all([
      start('a', A, node('a')),
      start('b', B, {
        certPath: join(live, 'node.crt'),
        keyPath: join(live, 'node.key'),
        caPath: join(live, 'ca.crt'),
      }),
    ]);
    aPort = new URL(a.federationUrl).port;
    bPort = new URL(b.federationUrl).port;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await rm(root, { recursive: true, force: true });
  });

  test('Provisioning: each node certificate carries its entity_uri as URI SAN and chains to the shared CA', async () => {
    for (const [name, uri] of [
      ['a', A],
      ['b', B],
    ] as const) {
      const [leaf, ...rest] = inspectCertificates(await readFile(node(name).certPath));
      assert.equal(rest.length, 0);
      assert.deepEqual(leaf?.sans, { uris: [uri], dnsNames: [], ips: [], emails: [] });
      assert.equal(leaf?.issuer, 'CN=Stigmem Federation CA');
      const verified = await openssl(['verify', '-CAfile', join(tls, 'ca.crt'), node(name).certPath]);
      assert.equal(verified.stdout, `${node(name).certPath}: OK\n`);
    }
  });

  test('Configuration: the node refuses to start if the cert/key files are unreadable', async () => {
    const missing = join(tls, 'a', 'missing.key');
    const result = await runCli(['serve'], {
      env: {
        TESSERA_DATA_DIR: join(root, 'unreadable'),
        TESSERA_ENTITY_URI: A,
        TESSERA_FEDERATION_PORT: '0',
        TESSERA_API_PORT: '0',
        STIGMEM_TLS_CERT_PATH: node('a').certPath,
        STIGMEM_TLS_KEY_PATH: missing,
        STIGMEM_TLS_CA_BUNDLE: node('a').caPath,
      },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^tessera: TLS_FILE_UNREADABLE: cannot read .*${missing}`));
  });

  test('Insecure local/dev/test mode: refused without STIGMEM_FEDERATION_INSECURE=1; with it, a security warning; service DNS names need the second acknowledgement', async () => {
    const env = (name: string, extra: Record<string, string>) => ({
      TESSERA_DATA_DIR: join(root, `insecure-${name}`),
      TESSERA_ENTITY_URI: `${ORG}/${name}`,
      TESSERA_FEDERATION_PORT: '0',
      TESSERA_API_PORT: '0',
      TESSERA_LOG_LEVEL: 'info',
      STIGMEM_FEDERATION_ENABLED: 'true',
      ...extra,
    });
    const [noFlag, dockerName] = await Promise.all([
      runCli(['serve'], { env: env('plain', {}) }),
      runCli(['serve'], {
        env: env('node-a', { STIGMEM_FEDERATION_INSECURE: '1', TESSERA_NODE_URL: 'http://node-a:8765' }),
      }),
    ]);
    assert.equal(noFlag.code, 1);
    assert.match(noFlag.stderr, /^tessera: TLS_CONFIG_INVALID: federation requires mutual TLS: set /);
    assert.equal(dockerName.code, 1);
    assert.match(
      dockerName.stderr,
      /TLS_INSECURE_REFUSED: .*allowed only on loopback, but the advertised URL node-a is not loopback; .*TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK/,
    );

    const loopback = startCli(['serve'], { env: env('dev', { STIGMEM_FEDERATION_INSECURE: '1' }) });
    const acknowledged = startCli(['serve'], {
      env: env('node-a', {
        STIGMEM_FEDERATION_INSECURE: '1',
        STIGMEM_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1',
        TESSERA_NODE_URL: 'http://node-a:8765',
      }),
    });
    try {
      for (const [proc, nonLoopback] of [
        [loopback, false],
        [acknowledged, true],
      ] as const) {
        const warning = await proc.waitForEvent((e) => e.event === 'insecure_mode', 60_000);
        assert.match(String(warning.msg), /^SECURITY WARNING: federation is running WITHOUT TLS/);
        assert.equal(warning.nonLoopback, nonLoopback);
        await proc.waitForEvent((e) => e.event === 'node_ready', 60_000);
      }
    } finally {
      await Promise.all([loopback.stop(), acknowledged.stop()]);
    }
  });

  test('Server: TLS 1.3 with a permitted suite, and a client certificate required (troubleshooting: CERTIFICATE_REQUIRED)', async () => {
    const client = node('operator');
    const good = await sClient(aPort, [
      '-cert',
      client.certPath,
      '-key',
      client.keyPath,
      '-CAfile',
      client.caPath,
    ]);
    const negotiated = /^New, (TLSv1\.3), Cipher is (\S+)$/m.exec(good.stdout);
    assert.ok(negotiated, good.stdout);
    assert.ok(PERMITTED_SUITES.includes(negotiated[2] as string), negotiated[2]);
    assert.match(good.stdout, /Verify return code: 0 \(ok\)/);

    // Under TLS 1.3 the server's alert follows the client's Finished: -ign_eof keeps s_client reading it.
    const noCertificate = await sClient(aPort, ['-ign_eof', '-CAfile', client.caPath]);
    assert.notEqual(noCertificate.code, 0);
    assert.match(noCertificate.stderr, /tlsv13 alert certificate required/);
    await refused(a, 'no_client_certificate');
  });

  test('Cipher policy: TLS 1.2 and earlier are not negotiated; a TLS 1.3 suite outside the policy gets no handshake (NO_SHARED_CIPHER)', async () => {
    const client = node('operator');
    const material = ['-cert', client.certPath, '-key', client.keyPath, '-CAfile', client.caPath];
    const tls12 = await sClient(aPort, ['-tls1_2', ...material]);
    assert.notEqual(tls12.code, 0);
    assert.match(tls12.stderr, /alert protocol version/);
    assert.match(tls12.stdout, /^New, \(NONE\), Cipher is \(NONE\)$/m);
    await refused(a, 'protocol_version');

    const ccm = await sClient(aPort, ['-ciphersuites', 'TLS_AES_128_CCM_SHA256', ...material]);
    assert.notEqual(ccm.code, 0);
    assert.match(ccm.stderr, /alert handshake failure/);
    assert.match(ccm.stdout, /^New, \(NONE\), Cipher is \(NONE\)$/m);
    await refused(a, 'no_shared_cipher');
  });

  test('Plaintext TCP connections to the federation port are rejected at the handshake: no HTTP response', async () => {
    const plaintext = await curl(['-sS', `http://127.0.0.1:${aPort}/healthz`]);
    assert.equal(plaintext.code, 52, plaintext.stderr);
    assert.match(plaintext.stderr, /Empty reply from server/);
    assert.equal(plaintext.stdout, '');
    await refused(a, 'plaintext_http');
  });

  test('Troubleshooting CERTIFICATE_VERIFY_FAILED: a certificate of another CA is refused, in both directions', async () => {
    const stranger = otherCa('x');
    const material = {
      certPem: await readFile(stranger.certPath, 'utf8'),
      keyPem: await readFile(stranger.keyPath, 'utf8'),
      caPem: await readFile(join(tls, 'ca.crt'), 'utf8'),
    };
    const attempt = await freshRequest(Number(aPort), material, '/healthz');
    assert.equal(attempt.ok, false, 'no HTTP response for a client of another CA');
    await refused(a, 'cert_untrusted');

    // The other way round: a client whose CA bundle is another CA cannot verify the node.
    const client = node('operator');
    const verify = await sClient(aPort, [
      '-verify_return_error',
      '-cert',
      client.certPath,
      '-key',
      client.keyPath,
      '-CAfile',
      stranger.caPath,
    ]);
    assert.notEqual(verify.code, 0);
    assert.match(verify.stderr, /certificate verify failed/);
  });

  test('Client (pull loop) and SAN validation: peers exchange facts; a certificate whose URI SAN is not the declared entity_uri gets a JSON error and no data', async () => {
    await addAndApprove(a, b);
    await addAndApprove(b, a);
    const asserted = await a.api<{ cid: string }>('POST', '/v1/facts', fact('acme:site/transport'));
    assert.equal(asserted.status, 201);
    await until('the fact on B (B pulled it from A over mTLS)', async () => {
      const list = await b.api<{ facts: { cid: string }[] }>('GET', '/v1/facts?entity=acme:site/transport');
      return list.body.facts.some((f) => f.cid === asserted.body.cid);
    });

    // A valid certificate of the federation CA (URI SAN …/operator) carrying a peer token in which B (an
    // approved peer, with its real node key) declares itself: the SAN does not match the declared identity.
    const token = await peerToken(b.dataDir, B, A);
    const answer = await federationGet(a, node('operator'), token);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'token_binding_mismatch');
    assert.equal(
      answer.body.detail,
      `token issuer ${B} is not the identity of this connection's certificate (${CLIENT})`,
    );
    assert.deepEqual(Object.keys(answer.body).sort(), ['detail', 'error'], 'no federation data');
    // B itself, with its own certificate and the same kind of token, is served.
    const own = await federationGet(a, node('b'), await peerToken(b.dataDir, B, A));
    assert.equal(own.status, 200);
  });

  test("Verifying rotation: the document's s_client | x509 pipeline shows the certificate the node presents", async () => {
    const shown = await presentedCertificate(aPort, node('operator'));
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^SHA1 Fingerprint=[0-9A-F:]+\nnotBefore=.+\nnotAfter=.+\n$/);
    assert.equal(shown.stdout, await certificateLines(node('a').certPath));
  });

  test('Rotation by replacing the files: the watcher reloads, the manifest records tls_cert_fingerprint, peers keep verifying', async () => {
    // 1. A new certificate: same CA, new key pair, same entity_uri URI SAN (step 2 of the recipe again).
    const next = (await stigmemLeaves(tls, [{ name: 'a-next', uri: A }]))('a-next');
    const expected = await certificateLines(next.certPath);
    assert.notEqual(expected, await certificateLines(node('a').certPath));
    // 4. Replace the cert files at the configured paths (a new file renamed over the old: same path).
    const replaced = await bash(
      `cp '${next.keyPath}' '${node('a').keyPath}.new' && cp '${next.certPath}' '${node('a').certPath}.new'\n` +
        `mv '${node('a').keyPath}.new' '${node('a').keyPath}' && mv '${node('a').certPath}.new' '${node('a').certPath}'`,
    );
    assert.equal(replaced.code, 0, replaced.stderr);
    // 5. "Wait for the 5-second file watcher": new handshakes present the new certificate.
    await until(
      'the new certificate presented',
      async () => (await presentedCertificate(aPort, node('operator'))).stdout === expected,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const reload = await a.proc.waitForEvent((e) => e.event === 'tls_reload' && e.result === 'success');
    assert.ok(['watch', 'poll'].includes(String(reload.trigger)), `reloaded by ${reload.trigger}`);

    // 2. The manifest records the new certificate's fingerprint, re-signed (done by the node itself).
    const sha256 = /sha256 Fingerprint=([0-9A-F:]+)/.exec(
      (await openssl(['x509', '-in', next.certPath, '-noout', '-fingerprint', '-sha256'])).stdout,
    )?.[1];
    assert.ok(sha256);
    await until('the manifest with the new tls_cert_fingerprint', async () => {
      const manifest = await federationGet(
        a,
        node('operator'),
        undefined,
        '/.well-known/stigmem-manifest.json',
      );
      return (manifest.body as unknown as SignedManifest).tls_cert_fingerprint === sha256;
    });

    // 6. Peer verification succeeds throughout: B still pulls from A (same CA).
    const asserted = await a.api<{ cid: string }>('POST', '/v1/facts', fact('acme:site/after-watch'));
    assert.equal(asserted.status, 201);
    await until('the fact written after the rotation on B', async () => {
      const list = await b.api<{ facts: { cid: string }[] }>('GET', '/v1/facts?entity=acme:site/after-watch');
      return list.body.facts.some((f) => f.cid === asserted.body.cid);
    });
  });

  test('Rotation by SIGHUP: `kill -HUP $(cat PIDFILE)` reloads at once; peers keep verifying', async () => {
    assert.equal(await readFile(pidFile('b'), 'utf8'), `${b.proc.child.pid}\n`);
    // B's paths are symlinks: rewriting the files behind them is invisible to the directory watch, so the
    // reload comes from the signal (or, should the 5 s poll run first, from the poll: then once more).
    let reload: Record<string, unknown> | undefined;
    let expected = '';
    for (let attempt = 0; attempt < 3 && reload?.trigger !== 'sighup'; attempt++) {
      const next = (await stigmemLeaves(tls, [{ name: `b-next-${attempt}`, uri: B }]))(`b-next-${attempt}`);
      expected = await certificateLines(next.certPath);
      const rotated = await bash(
        `cp '${next.keyPath}' '${node('b').keyPath}' && cp '${next.certPath}' '${node('b').certPath}'\n` +
          `kill -HUP $(cat '${pidFile('b')}')`,
      );
      assert.equal(rotated.code, 0, rotated.stderr);
      const fingerprint = (
        await openssl(['x509', '-in', next.certPath, '-noout', '-fingerprint', '-sha256'])
      ).stdout
        .replace(/^.*=/, '')
        .replaceAll(':', '')
        .trim()
        .toLowerCase();
      reload = await b.proc.waitForEvent(
        (e) => e.event === 'tls_reload' && e.result === 'success' && e.fingerprint256 === fingerprint,
        20_000,
      );
    }
    assert.equal(reload?.trigger, 'sighup', 'reloaded by the signal');
    assert.equal(b.proc.child.exitCode, null, 'SIGHUP does not stop the node');
    assert.equal((await presentedCertificate(bPort, node('operator'))).stdout, expected);

    const asserted = await b.api<{ cid: string }>('POST', '/v1/facts', fact('acme:site/after-hup'));
    assert.equal(asserted.status, 201);
    await until('the fact written on B after its rotation, on A', async () => {
      const list = await a.api<{ facts: { cid: string }[] }>('GET', '/v1/facts?entity=acme:site/after-hup');
      return list.body.facts.some((f) => f.cid === asserted.body.cid);
    });
  });

  test('Docker Compose mTLS example, with local processes for Docker: certificates, smoke script, the curl checks', async (t) => {
    // ./deploy/compose/generate-mtls-demo-certs.sh (into a temp dir instead of deploy/compose/tls).
    const demo = join(root, 'compose-tls');
    const generated = await run('/bin/bash', [GEN_CERTS, demo]);
    assert.equal(generated.code, 0, generated.stderr);
    assert.match(generated.stdout, /node-a\.crt {2}stigmem-a {2}stigmem:\/\/compose\.example\/nodes\/a/);

    // `docker compose … up -d --build` and `bash scripts/mtls-compose-smoke.sh`: the script's --local mode
    // runs the same steps against two local processes; KEEP_UP=1 leaves them up for the checks below.
    const smoke = await runSmoke(['--local'], { KEEP_UP: '1', TESSERA_SMOKE_TLS_DIR: demo });
    const pids = [...smoke.stdout.matchAll(/ok: stigmem-[ab] \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    t.after(() => {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
    });
    assert.equal(smoke.code, 0, `${smoke.stdout}\n${smoke.stderr}`);
    assert.match(smoke.stdout, /^smoke: PASSED$/m);
    const port = (service: string) =>
      new RegExp(`ok: ${service} \\(pid \\d+\\) federation 127\\.0\\.0\\.1:(\\d+)`).exec(smoke.stdout)?.[1];
    const [portA, portB] = [port('stigmem-a'), port('stigmem-b')];
    assert.ok(portA && portB, smoke.stdout);

    // "Verify the nodes with the generated client certificates" (8765 → A's port, 8766 → B's port).
    for (const [name, p] of [
      ['a', portA],
      ['b', portB],
    ] as const) {
      const verified = await bash(
        `curl --cacert ${demo}/ca.crt \\\n` +
          `  --cert ${demo}/node-${name}.crt \\\n` +
          `  --key ${demo}/node-${name}.key \\\n` +
          `  --resolve stigmem-${name}:${p}:127.0.0.1 \\\n` +
          `  https://stigmem-${name}:${p}/healthz`,
      );
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(verified.stdout, '{"status":"ok"}');
    }

    // The compose file's healthcheck (`tessera health --listener federation`), with the service's environment
    // and the local node's files and port in place of the container's.
    const workDir = /^smoke: local mode, work dir (\S+)$/m.exec(smoke.stdout)?.[1];
    assert.ok(workDir);
    const compose = await loadCompose();
    const serviceA = compose.services['stigmem-a']!;
    const [command, ...args] = serviceA.healthcheck.test.slice(1);
    assert.deepEqual([command, args[0]], ['node', '/app/bin/tessera.js']);
    const localEnv = (federationPort: string) =>
      Object.fromEntries(
        Object.entries({ ...serviceA.environment, TESSERA_FEDERATION_PORT: federationPort }).map(([k, v]) => [
          k,
          v.replace('/etc/tessera/tls/', `${workDir}/stigmem-a/tls/`),
        ]),
      );
    const healthy = await runCli(args.slice(1), { env: localEnv(portA) });
    assert.equal(healthy.code, 0, healthy.stderr);
    const elsewhere = await runCli(args.slice(1), { env: localEnv(portB) });
    assert.equal(elsewhere.code, 1, "B's listener does not hold A's entity URI: unhealthy");
    assert.match(elsewhere.stderr, /does not carry stigmem:\/\/compose\.example\/nodes\/a/);

    // KEEP_UP=1 printed how to stop; doing so stops both nodes and removes the work dir.
    const stop = /^ {2}(kill .+)$/m.exec(smoke.stdout)?.[1];
    assert.ok(stop, smoke.stdout);
    const stopped = await bash(stop);
    assert.equal(stopped.code, 0, stopped.stderr);
    await until('both nodes stopped', () => pids.every((pid) => !alive(pid)));
    assert.ok(!existsSync(workDir));
    assert.ok(existsSync(COMPOSE_DIR), 'the repository is untouched');
  });
});
