// deploy/seccomp/tessera-node.json, checked without a container runtime (none runs here): its structure is
// the one Docker, containerd and CRI-O read; it refuses what a node never needs (new namespaces, tracing,
// modules, BPF, keyrings, mounts, io_uring); and it allows every system call that `tessera serve` and
// `tessera health` really make, as strace counts them over a start, TLS and mutual-TLS requests, a fact
// written to SQLite, a reload of renamed TLS files, SIGHUP, an outgoing mTLS call resolved by name, and a
// clean stop. What strace cannot show is how the runtime enforces the profile: that needs a container.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { runCli, startCli } from '../support/child.ts';
import { createTestCa, writeMaterial } from '../support/pki.ts';
import {
  buildSeccompLoader,
  giveToNodeUser,
  loadSeccompProfile,
  type SeccompProfile,
  type SeccompRule,
  seccompWrapper,
  straceWrapper,
  syscallsOfSummary,
} from '../support/seccomp.ts';
import { run } from '../support/shell.ts';

/** clone's namespace flags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;

/** System calls a node never needs and a compromised one would want. */
const NEVER_ALLOWED = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kcmp',
  'pidfd_getfd',
  'unshare',
  'setns',
  'mount',
  'umount2',
  'pivot_root',
  'chroot',
  'fsopen',
  'fsmount',
  'move_mount',
  'open_tree',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  'reboot',
  'swapon',
  'swapoff',
  'keyctl',
  'add_key',
  'request_key',
  'personality',
  'setuid',
  'setgid',
  'setresuid',
  'setresgid',
  'setgroups',
  'capset',
  'chown',
  'fchown',
  'fchownat',
  'lchown',
  'mknod',
  'mknodat',
  'acct',
  'syslog',
  'settimeofday',
  'clock_settime',
  'adjtimex',
  'sethostname',
  'setdomainname',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'clone3',
  'open_by_handle_at',
  'name_to_handle_at',
  'iopl',
  'ioperm',
  'quotactl',
  'lookup_dcookie',
  'fanotify_init',
  'vmsplice',
];

const allowRules = (profile: SeccompProfile) => profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW');
const allowedNames = (profile: SeccompProfile) => new Set(allowRules(profile).flatMap((r) => r.names));
const refusedOnPurpose = (profile: SeccompProfile) =>
  new Set(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO').flatMap((r) => r.names));

describe('deploy/seccomp/tessera-node.json', () => {
  let profile: SeccompProfile;
  before(async () => {
    profile = await loadSeccompProfile();
  });

  test('an allow-list as container runtimes read it: default ERRNO (EPERM), x86_64 and aarch64 only, rules well-formed, no name twice', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(profile.defaultErrnoRet, 1);
    assert.deepEqual(profile.archMap, [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] },
    ]);
    const unconditional = new Map<string, number>();
    for (const rule of profile.syscalls) {
      assert.ok(rule.names.length > 0);
      for (const name of rule.names) assert.match(name, /^[a-z0-9_]+$/);
      assert.ok(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'].includes(rule.action), rule.action);
      if (rule.action === 'SCMP_ACT_ERRNO') assert.equal(typeof rule.errnoRet, 'number', rule.names.join());
      assert.ok(rule.comment && rule.comment.length > 10, `${rule.names.join()}: says why`);
      for (const arg of rule.args ?? []) {
        assert.ok(['SCMP_CMP_EQ', 'SCMP_CMP_MASKED_EQ'].includes(arg.op), arg.op);
        assert.ok(Number.isInteger(arg.index) && Number.isInteger(arg.value));
      }
      if (!rule.args)
        for (const name of rule.names) unconditional.set(name, (unconditional.get(name) ?? 0) + 1);
    }
    const twice = [...unconditional].filter(([, count]) => count > 1).map(([name]) => name);
    assert.deepEqual(twice, []);
    const conditional = new Set(profile.syscalls.filter((r) => r.args).flatMap((r) => r.names));
    assert.deepEqual(
      [...conditional].filter((name) => unconditional.has(name)),
      [],
      'a conditional rule is not undone by an unconditional one',
    );
  });

  test('refuses namespaces, tracing, modules, BPF, keyrings, mounts, id changes and io_uring; clone only without namespace flags; four socket families', () => {
    const allowed = allowedNames(profile);
    assert.deepEqual(
      NEVER_ALLOWED.filter((name) => allowed.has(name)),
      [],
    );
    const rulesFor = (name: string): SeccompRule[] => profile.syscalls.filter((r) => r.names.includes(name));
    assert.deepEqual(
      rulesFor('clone').map((r) => [r.action, r.args]),
      [
        [
          'SCMP_ACT_ALLOW',
          [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        ],
      ],
    );
    assert.deepEqual(
      rulesFor('socket').map((r) => [r.action, r.args?.map((a) => [a.index, a.op, a.value])]),
      [1, 2, 10, 16].map((family) => ['SCMP_ACT_ALLOW', [[0, 'SCMP_CMP_EQ', family]]]),
      'AF_UNIX, AF_INET, AF_INET6, AF_NETLINK',
    );
    // Refused with ENOSYS, so glibc falls back to clone and libuv to its thread pool.
    for (const name of ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'])
      assert.deepEqual(
        rulesFor(name).map((r) => [r.action, r.errnoRet]),
        [['SCMP_ACT_ERRNO', ENOSYS]],
        name,
      );
  });

  describe('tessera serve and tessera health under the profile', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-seccomp-'));
      await giveToNodeUser(root);
    });
    after(() => rm(root, { recursive: true, force: true }));

    test('strace: every system call of a start, requests, SQLite writes, reloads, an outgoing mTLS call and a stop is allowed (or refused on purpose)', async () => {
      const probe = await run('strace', ['-V']);
      if (probe.spawnError)
        throw new Error(
          `${probe.spawnError}: this test counts system calls with strace (apt-get install strace)`,
        );
      const dir = join(root, 'strace');
      await mkdir(dir);
      await giveToNodeUser(dir);
      const summaries: string[] = [];
      await exercise(dir, (label) => {
        summaries.push(join(dir, `${label}.strace`));
        return straceWrapper(summaries.at(-1)!);
      });
      const used = new Set<string>();
      for (const file of summaries)
        for (const name of syscallsOfSummary(await readFile(file, 'utf8'))) used.add(name);
      // The trace saw the work done (a parse that found nothing would pass vacuously).
      for (const name of ['accept4', 'connect', 'inotify_add_watch', 'rename', 'fsync', 'getrandom'])
        assert.ok(used.has(name), `${name} was traced (${[...used].sort().join(' ')})`);
      const allowed = allowedNames(profile);
      const refused = refusedOnPurpose(profile);
      const outside = [...used].filter((name) => !allowed.has(name) && !refused.has(name)).sort();
      assert.deepEqual(outside, [], `system calls the profile would refuse: ${outside.join(' ')}`);
    });

    test('enforced (libseccomp, no_new_privs): the same run works under the filter, and what it refuses fails with EPERM', async () => {
      const dir = join(root, 'enforced');
      await mkdir(dir);
      await giveToNodeUser(dir);
      const built = await buildSeccompLoader(dir, profile);
      await exercise(dir, () => seccompWrapper(built));
      // The control: the filter is really there. Changing a file's owner (to the owner it already has,
      // which any user may do) is not on the list, so it fails; the same call outside the filter works.
      const target = join(dir, 'owned');
      await writeFile(target, '');
      await giveToNodeUser(target);
      const chownScript = `const fs = require('node:fs'); const s = fs.statSync('${target}'); try { fs.chownSync('${target}', s.uid, s.gid); console.log('allowed'); } catch (e) { console.log(e.code); }`;
      const [filtered, unfiltered] = await Promise.all([
        run(seccompWrapper(built)[0]!, [
          ...seccompWrapper(built).slice(1),
          process.execPath,
          '-e',
          chownScript,
        ]),
        run(process.execPath, ['-e', chownScript]),
      ]);
      assert.equal(filtered.stdout, 'EPERM\n', filtered.stderr);
      assert.equal(unfiltered.stdout, 'allowed\n', unfiltered.stderr);
    });
  });
});

/**
 * What a node does in its container, each process started through `wrap(label)`: `tessera serve` starts
 * (TLS API, mTLS federation, SQLite, PID file), a fact is written, the node fetches a manifest over mTLS
 * from a host name, new TLS files are renamed into place and reloaded, SIGHUP, `tessera health` asks the
 * federation listener, SIGTERM stops the node cleanly.
 */
async function exercise(dir: string, wrap: (label: string) => string[]): Promise<void> {
  const ca = await createTestCa();
  const tlsDir = join(dir, 'tls');
  await mkdir(tlsDir, { recursive: true });
  const tls = await writeMaterial(tlsDir, 'node', await ca.issue('a'), ca.certPem);
  await giveToNodeUser(tlsDir, tls.certPath, tls.keyPath, tls.caPath);
  const pidFile = join(dir, 'tessera.pid');
  const apiKey = 'seccomp-test-admin-key-0123456789';
  const env = {
    TESSERA_DATA_DIR: join(dir, 'data'),
    TESSERA_ENTITY_URI: 'spiffe://test.example/node/a',
    TESSERA_TLS_CERT_PATH: tls.certPath,
    TESSERA_TLS_KEY_PATH: tls.keyPath,
    TESSERA_TLS_CA_BUNDLE: tls.caPath,
    TESSERA_FEDERATION_PORT: '0',
    TESSERA_API_PORT: '0',
    TESSERA_API_TLS: 'tls',
    TESSERA_PID_FILE: pidFile,
    TESSERA_API_KEY: apiKey,
    TESSERA_LOG_LEVEL: 'info',
  };
  const node = startCli(['serve'], { env, wrapper: wrap('serve') });
  try {
    const ready = await node.waitForEvent((e) => e.event === 'node_ready', 180_000);
    const apiUrl = ready.api_url as string;
    const federationUrl = ready.federation_url as string;
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    const dispatcher = new Agent({ connect: { ca: ca.certPem, checkServerIdentity: () => undefined } });
    const post = async (path: string, body: unknown) => {
      const response = await request(new URL(path, apiUrl), {
        dispatcher,
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.statusCode, body: (await response.body.json()) as { error?: string } };
    };
    try {
      const written = await post('/v1/facts', {
        entity: 'acme:site/1',
        relation: 'status',
        value: 'up',
        scope: 'company',
      });
      assert.equal(written.status, 201, JSON.stringify(written.body));
      // An outgoing mutual-TLS call to a name (getaddrinfo): the node fetches its own manifest, then refuses it.
      const self = await post('/v1/admin/peers', { url: `https://localhost:${new URL(federationUrl).port}` });
      assert.equal(self.body.error, 'peer_is_self', 'the manifest was fetched over mTLS');
    } finally {
      await dispatcher.close();
    }
    const next = await ca.issue('a');
    await writeFile(`${tls.keyPath}.new`, next.keyPem, { mode: 0o600 });
    await writeFile(`${tls.certPath}.new`, next.chainPem);
    await giveToNodeUser(`${tls.keyPath}.new`, `${tls.certPath}.new`);
    await rename(`${tls.keyPath}.new`, tls.keyPath);
    await rename(`${tls.certPath}.new`, tls.certPath);
    await node.waitForEvent((e) => e.event === 'tls_reload' && e.result === 'success', 60_000);
    process.kill(pid, 'SIGHUP');
    await node.waitForEvent((e) => e.event === 'sighup', 30_000);
    const health = await runCli(['health', '--listener', 'federation'], {
      env: {
        ...env,
        TESSERA_FEDERATION_PORT: new URL(federationUrl).port,
        TESSERA_API_PORT: new URL(apiUrl).port,
      },
      wrapper: wrap('health'),
    });
    assert.equal(health.code, 0, health.stderr);
    process.kill(pid, 'SIGTERM');
    assert.deepEqual(await node.exited, { code: 0, signal: null }, node.stderr());
  } finally {
    await node.stop();
  }
}
