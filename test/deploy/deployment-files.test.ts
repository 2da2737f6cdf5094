// The deployment files under deploy/ and the deployment guide's `docker run`, checked without a container
// engine or a cluster: every manifest and unit parses; every variable they set is a Tessera setting or a
// Stigmem alias, secrets come only from Secrets, and each set as a whole is a configuration `tessera serve`
// accepts; every file they name exists; the image runs as 65532:65532 with /data and a HEALTHCHECK; the
// `docker run` flags hold the Stigmem tutorial's posture; the Kubernetes objects carry the restricted
// security context, probes on /readyz and the cert-manager Certificate the issue asks for; the systemd unit
// passes `systemd-analyze verify` and its offline security review.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { STIGMEM_ALIASES } from '../../src/node/settings/aliases.ts';
import { loadConfig } from '../../src/node/settings/config.ts';
import { SETTINGS, type Setting } from '../../src/node/settings/table.ts';
import { runCli } from '../support/child.ts';
import { DOCKERFILE, REPO_ROOT } from '../support/deploy.ts';
import {
  DEPLOYMENT_GUIDE,
  directive,
  envFileEntries,
  guideDockerRun,
  type K8sObject,
  KUBERNETES_DIR,
  kubectlKustomize,
  kustomize,
  parseUnit,
  SYSTEMD_DIR,
} from '../support/manifests.ts';
import { SECCOMP_PROFILE } from '../support/seccomp.ts';
import { run } from '../support/shell.ts';

const ALL_SETTINGS: Setting[] = Object.values(SETTINGS);
const KNOWN_VARIABLES = new Set([...ALL_SETTINGS.map((s) => s.env), ...Object.values(STIGMEM_ALIASES)]);
/** Env-only secrets (and their Stigmem names): never in a ConfigMap, an env file in git, or a flag. */
const SECRET_VARIABLES = new Set(
  Object.entries(SETTINGS)
    .filter(([, s]) => (s as Setting).secret)
    .flatMap(([key, s]) => [s.env, STIGMEM_ALIASES[key as keyof typeof STIGMEM_ALIASES]].filter(Boolean)),
);
/** Values for the secrets a manifest takes from a Secret, so the whole configuration can be loaded. */
const SECRET_STAND_INS: Record<string, string> = {
  TESSERA_DATABASE_URL: 'postgres://tessera@db.example.org:5432/tessera',
  TESSERA_NODE_PRIVATE_KEY: randomBytes(32).toString('base64url'),
  TESSERA_ISSUER_PRIVATE_KEY: randomBytes(32).toString('base64url'),
  TESSERA_API_KEY: randomBytes(24).toString('base64url'),
};

const assertKnown = (variables: string[], where: string) => {
  const unknown = variables.filter((v) => !KNOWN_VARIABLES.has(v));
  assert.deepEqual(unknown, [], `${where}: not a setting or an alias`);
};

/** The Stigmem tutorial's `docker run` posture (Step 7), flag by flag. */
const TUTORIAL_POSTURE = [
  ['--user', '65532:65532'],
  ['--read-only'],
  ['--tmpfs', /^\/tmp:mode=1777,size=\d+m$/],
  ['--cap-drop', 'ALL'],
  ['--security-opt', 'no-new-privileges'],
  ['--security-opt', /^seccomp=deploy\/seccomp\/[a-z-]+\.json$/],
] as const;

describe('deploy/Dockerfile', () => {
  test('multi-stage; the final stage runs bin/tessera.js serve as 65532:65532 (named nonroot), state in the /data volume, a HEALTHCHECK', async () => {
    const lines = (await readFile(DOCKERFILE, 'utf8'))
      .replace(/\s*\\\n\s*/g, ' ')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    const nvmrc = (await readFile(join(REPO_ROOT, '.nvmrc'), 'utf8')).trim();
    assert.equal(froms.length, 2, 'a build stage and a runtime stage');
    assert.match(froms[0]!, new RegExp(`^FROM node:${nvmrc}-\\S+ AS build$`));
    assert.match(froms[1]!, new RegExp(`^FROM node:${nvmrc}-\\S+$`), 'the Node major the project pins');
    const final = lines.slice(lines.indexOf(froms[1]!));
    const at = (prefix: string) => final.findIndex((l) => l.startsWith(prefix));
    const run = final.filter((l) => l.startsWith('RUN ')).join(' ');
    assert.match(run, /groupadd --gid 65532 nonroot/);
    assert.match(run, /useradd --uid 65532 --gid 65532 .*--shell \/usr\/sbin\/nologin nonroot/);
    assert.match(run, /chown 65532:65532 \/data && chmod 0700 \/data/);
    assert.equal(final.filter((l) => l.startsWith('USER ')).join(), 'USER 65532:65532');
    assert.ok(at('RUN ') < at('USER '), 'the data dir is handed over before the image drops root');
    assert.ok(!final.some((l) => /--chown/.test(l)), 'the application files stay root-owned (read-only)');
    assert.ok(final.includes('ENV TESSERA_DATA_DIR=/data'));
    assert.ok(final.includes('VOLUME ["/data"]'));
    const healthcheck = final.find((l) => l.startsWith('HEALTHCHECK '));
    assert.match(
      healthcheck ?? '',
      /^HEALTHCHECK --interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD \[/,
    );
    const probe = JSON.parse(healthcheck!.slice(healthcheck!.indexOf('CMD ') + 4)) as string[];
    assert.deepEqual(probe.slice(0, 3), ['node', '/app/bin/tessera.js', 'health']);
    assert.ok(final.includes('ENTRYPOINT ["node", "/app/bin/tessera.js"]'));
    assert.ok(final.includes('CMD ["serve"]'));
    for (const env of final.filter((l) => l.startsWith('ENV ')).map((l) => l.slice(4).split('=')[0]!))
      assert.ok(env === 'NODE_ENV' || KNOWN_VARIABLES.has(env), `ENV ${env}`);
    // The healthcheck's command exists and takes its flags (a typo would leave every container unhealthy).
    const help = await runCli([...probe.slice(2), '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--listener <listener>/);
  });

  test('copies only what .dockerignore lets into the context (and that exists); no deploy/ keys enter it', async () => {
    const allowed = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const copies = (await readFile(DOCKERFILE, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.ok(copies.length >= 4);
    for (const source of copies) {
      assert.ok(allowed.includes(source), `${source} is in the build context`);
      await stat(join(REPO_ROOT, source));
    }
    assert.ok(!allowed.some((a) => a.startsWith('deploy')), 'no demo keys enter the context');
  });
});

describe("the deployment guide's docker run", () => {
  test("holds the tutorial's posture: 65532:65532, read-only, tmpfs /tmp, no capabilities, no-new-privileges, the seccomp profile", async () => {
    const words = await guideDockerRun();
    assert.deepEqual(words.slice(0, 3), ['docker', 'run', '-d']);
    for (const [flag, value] of TUTORIAL_POSTURE) {
      const found = words.some(
        (w, i) =>
          w === flag &&
          (value === undefined ||
            (typeof value === 'string' ? words[i + 1] === value : value.test(words[i + 1]!))),
      );
      assert.ok(found, `${flag} ${value ?? ''}`);
    }
    const seccomp = words.find((w) => w.startsWith('seccomp='))!.slice('seccomp='.length);
    assert.equal(join(REPO_ROOT, seccomp), SECCOMP_PROFILE, 'the profile in this repository');
    await stat(SECCOMP_PROFILE);
    // Writable: the /data volume and the /tmp tmpfs, nothing else; the TLS material read-only.
    const values = (flag: string) => words.flatMap((w, i) => (w === flag ? [words[i + 1]!] : []));
    assert.deepEqual(
      values('--tmpfs').map((t) => t.split(':')[0]),
      ['/tmp'],
    );
    const mounts = values('-v').map((v) => v.split(':'));
    assert.deepEqual(
      mounts.filter((m) => m[2] !== 'ro').map((m) => m[1]),
      ['/data'],
    );
    assert.deepEqual(
      mounts.find((m) => m[1] === '/tls'),
      ['/etc/stigmem/tls', '/tls', 'ro'],
    );
  });

  test('its -e variables are settings or aliases, none a secret, and with the image they configure a valid node', async () => {
    const words = await guideDockerRun();
    const env = Object.fromEntries(
      words.flatMap((w, i) => (w === '-e' ? [words[i + 1]!.split(/=(.*)/s).slice(0, 2)] : [])),
    ) as Record<string, string>;
    assertKnown(Object.keys(env), 'docker run -e');
    assert.deepEqual(
      Object.keys(env).filter((k) => SECRET_VARIABLES.has(k)),
      [],
      'no secret on a command line',
    );
    const config = loadConfig({}, { TESSERA_DATA_DIR: '/data', ...env });
    assert.equal(config.dbPath, '/data/stigmem.db');
    assert.deepEqual(config.federation, {
      mode: 'mtls',
      certPath: '/tls/node.crt',
      keyPath: '/tls/node.key',
      caPath: '/tls/ca.crt',
    });
    assert.equal(config.pidFile, '/tmp/tessera.pid', 'the PID file on the tmpfs');
    const published = words.flatMap((w, i) => (w === '-p' ? [words[i + 1]!] : []));
    assert.deepEqual(published, [`${config.federationPort}:${config.federationPort}`]);
    assert.equal(config.apiHost, '127.0.0.1', 'the API stays on the container loopback');
  });
});

interface Container {
  name: string;
  args?: string[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  startupProbe?: { httpGet: { path: string; port: string; scheme: string } };
  readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
  livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}

const VARIANTS = {
  'single-node': { replicas: 1, database: 'sqlite' },
  postgres: { replicas: 2, database: 'postgres' },
} as const;

/** Kinds pods may mount under the restricted Pod Security Standard. */
const RESTRICTED_VOLUME_KINDS = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

for (const [variant, expected] of Object.entries(VARIANTS)) {
  describe(`deploy/kubernetes/${variant}`, () => {
    const dir = join(KUBERNETES_DIR, variant);
    const load = async () => {
      const rendered = await kustomize(dir);
      const objects = rendered.map((r) => r.object);
      const one = (kind: string, name?: string) => {
        const found = objects.filter(
          (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
        );
        assert.equal(found.length, 1, `one ${kind} ${name ?? ''}`);
        return found[0]!;
      };
      const deployment = one('Deployment', 'tessera');
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0] as Container;
      return { rendered, objects, one, deployment, pod, container };
    };

    test('parses: every resource file exists, each object is namespace-agnostic; kubectl kustomize renders the same (when installed)', async (t) => {
      const { objects } = await load();
      for (const object of objects) {
        assert.ok(
          object.apiVersion && object.kind && object.metadata?.name,
          JSON.stringify(object).slice(0, 80),
        );
        assert.equal(
          object.metadata.namespace,
          undefined,
          `${object.kind} ${object.metadata.name}: no namespace`,
        );
        assert.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'tessera');
      }
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.equal(new Set(ids).size, ids.length, 'no object twice');
      const byKubectl = await kubectlKustomize(dir);
      if (!byKubectl) return t.skip('kubectl is not installed');
      const sortById = (list: K8sObject[]) =>
        [...list].sort((a, b) =>
          `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`),
        );
      assert.deepEqual(sortById(byKubectl), sortById(objects));
    });

    test('restricted security context: non-root 65532:65532, fsGroup, read-only root, no escalation, no capabilities, seccomp', async () => {
      const { pod, container } = await load();
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.deepEqual(container.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(pod.automountServiceAccountToken, false);
      assert.equal(pod.enableServiceLinks, false, 'no TESSERA_PORT=… from the Service named tessera');
      for (const forbidden of ['hostNetwork', 'hostPID', 'hostIPC']) assert.equal(pod[forbidden], undefined);
      assert.equal(pod.containers.length, 1);
      assert.equal(pod.initContainers, undefined);
      for (const volume of pod.volumes as Record<string, unknown>[]) {
        const kinds = Object.keys(volume).filter((k) => k !== 'name');
        assert.ok(kinds.length === 1 && RESTRICTED_VOLUME_KINDS.has(kinds[0]!), `${volume.name}: ${kinds}`);
      }
      assert.ok(!container.ports.some((p) => 'hostPort' in p));
      assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
      assert.ok(container.resources.limits.memory, 'a memory limit');
      // Writable: /data and /tmp, nothing else.
      const writable = container.volumeMounts.filter((m) => !m.readOnly).map((m) => m.mountPath);
      assert.deepEqual(writable.sort(), ['/data', '/tmp']);
    });

    test('probes: readiness /readyz, liveness and start-up /healthz, over HTTPS on the API port (TESSERA_API_TLS=tls)', async () => {
      const { container, objects } = await load();
      const config = loadConfig({}, containerEnv(container, objects));
      assert.equal(config.apiTls, 'tls', 'the kubelet probes over TLS without a client certificate');
      const api = container.ports.find((p) => p.name === 'api');
      assert.equal(api?.containerPort, config.apiPort);
      assert.equal(
        container.ports.find((p) => p.name === 'federation')?.containerPort,
        config.federationPort,
      );
      assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'api', scheme: 'HTTPS' });
      assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'api', scheme: 'HTTPS' });
      assert.deepEqual(container.startupProbe?.httpGet, { path: '/healthz', port: 'api', scheme: 'HTTPS' });
    });

    test('settings: every variable is a setting, secrets only from Secrets, and the whole set is a configuration serve accepts', async () => {
      const { container, objects, pod } = await load();
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
      for (const map of configMaps) {
        assertKnown(Object.keys(map.data ?? {}), `ConfigMap ${map.metadata.name}`);
        assert.deepEqual(
          Object.keys(map.data ?? {}).filter((k) => SECRET_VARIABLES.has(k)),
          [],
          'no secret in a ConfigMap',
        );
      }
      for (const ref of container.envFrom ?? [])
        assert.ok(
          configMaps.some((m) => m.metadata.name === ref.configMapRef?.name),
          `${ref.configMapRef?.name}`,
        );
      assertKnown(
        (container.env ?? []).map((e) => e.name),
        'env',
      );
      for (const entry of container.env ?? [])
        if (SECRET_VARIABLES.has(entry.name))
          assert.ok(
            entry.valueFrom?.secretKeyRef && entry.value === undefined,
            `${entry.name} from a Secret`,
          );
      const env = containerEnv(container, objects);
      const config = loadConfig({}, env);
      const certificate = objects.find((o) => o.kind === 'Certificate' && o.metadata.name === 'tessera-tls')!;
      assert.ok(
        certificate.spec.uris.includes(config.entityUri),
        'the entity URI is a URI SAN of the certificate',
      );
      const tlsMount = container.volumeMounts.find((m) => m.name === 'tls')!;
      const tlsVolume = pod.volumes.find((v: { name: string }) => v.name === 'tls');
      assert.equal(tlsVolume.secret.secretName, certificate.spec.secretName, "cert-manager's Secret");
      assert.deepEqual(config.federation, {
        mode: 'mtls',
        certPath: `${tlsMount.mountPath}/tls.crt`,
        keyPath: `${tlsMount.mountPath}/tls.key`,
        caPath: `${tlsMount.mountPath}/ca.crt`,
      });
      assert.ok(
        certificate.spec.dnsNames.includes(new URL(config.nodeUrl).hostname),
        'peers dial a name it holds',
      );
      assert.equal(config.dataDir, '/data');
      assert.deepEqual(config.tlsExpiry, { warningMs: 12 * 3_600_000, criticalMs: 4 * 3_600_000 });
      assert.equal(config.tlsMinRemainingLifetimeMs, 3_600_000);
      assert.equal(config.database.kind, expected.database);
      if (config.database.kind === 'postgres') {
        const dbMount = container.volumeMounts.find((m) => m.name === 'db-tls')!;
        const dbVolume = pod.volumes.find((v: { name: string }) => v.name === 'db-tls');
        const dbCertificate = objects.find(
          (o) => o.kind === 'Certificate' && o.metadata.name === 'tessera-db-client',
        )!;
        assert.equal(dbVolume.secret.secretName, dbCertificate.spec.secretName);
        assert.deepEqual(config.database.tls, {
          mode: 'verify-full',
          caPath: `${dbMount.mountPath}/ca.crt`,
          certPath: `${dbMount.mountPath}/tls.crt`,
          keyPath: `${dbMount.mountPath}/tls.key`,
        });
        assert.equal(
          config.nodePrivateKey,
          SECRET_STAND_INS.TESSERA_NODE_PRIVATE_KEY,
          'the same key on every replica',
        );
        assert.equal(config.issuerPrivateKey, SECRET_STAND_INS.TESSERA_ISSUER_PRIVATE_KEY);
      }
    });

    test('cert-manager Certificate: 24h, renewBefore 8h, client auth + server auth, the entity URI as URI SAN, mounted read-only, reloadable (no subPath)', async () => {
      const { objects, container, pod } = await load();
      const certificates = objects.filter((o) => o.kind === 'Certificate');
      assert.ok(certificates.length >= 1);
      for (const certificate of certificates) {
        assert.equal(certificate.apiVersion, 'cert-manager.io/v1');
        const spec = certificate.spec;
        assert.equal(spec.duration, '24h');
        assert.equal(spec.renewBefore, '8h');
        assert.deepEqual([...spec.usages].sort(), ['client auth', 'server auth']);
        assert.equal(spec.privateKey.rotationPolicy, 'Always', 'a new key with each certificate');
        assert.ok(spec.issuerRef?.name, 'an issuer');
        const volume = pod.volumes.find(
          (v: { secret?: { secretName: string } }) => v.secret?.secretName === spec.secretName,
        );
        assert.ok(volume, `${spec.secretName} is mounted`);
        assert.equal(volume.secret.defaultMode, 0o440, 'readable by the node group, writable by nobody');
        const mount = container.volumeMounts.find((m) => m.name === volume.name)!;
        assert.equal(mount.readOnly, true);
        assert.equal(mount.subPath, undefined, 'a subPath mount would never see a renewal');
      }
      const node = certificates.find((c) => c.metadata.name === 'tessera-tls')!;
      assert.equal(node.spec.uris.length, 1);
      assert.match(node.spec.uris[0], /^[a-z][a-z0-9+.-]*:\/\//);
    });

    test(`Service and workload: ${expected.replicas} replica(s); selectors match the pods; ports are the named container ports`, async () => {
      const { deployment, one, container, objects } = await load();
      const podLabels = deployment.spec.template.metadata.labels;
      const matches = (selector: Record<string, string>) =>
        Object.entries(selector).every(([k, v]) => podLabels[k] === v);
      assert.ok(matches(deployment.spec.selector.matchLabels));
      const service = one('Service', 'tessera');
      assert.ok(matches(service.spec.selector), 'the Service selects the pods');
      const containerPorts = new Map(container.ports.map((p) => [p.name, p.containerPort]));
      for (const port of service.spec.ports) {
        assert.ok(containerPorts.has(port.targetPort), `${port.name} → a named container port`);
        assert.equal(port.port, containerPorts.get(port.targetPort));
      }
      assert.equal(deployment.spec.replicas, expected.replicas);
      if (variant === 'single-node') {
        assert.equal(deployment.spec.strategy.type, 'Recreate', 'never two pods on one SQLite file');
        const claim = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data');
        one('PersistentVolumeClaim', claim.persistentVolumeClaim.claimName);
        assert.ok(!objects.some((o) => o.kind === 'PodDisruptionBudget'));
      } else {
        assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
        const budget = one('PodDisruptionBudget', 'tessera');
        assert.ok(matches(budget.spec.selector.matchLabels), 'the budget covers the pods');
        assert.ok(budget.spec.minAvailable >= 1 && budget.spec.minAvailable < expected.replicas);
        const database = one('Certificate', 'tessera-db-client');
        assert.equal(database.spec.commonName, 'tessera', 'the database user (pg_hba.conf cert)');
      }
    });
  });
}

/** The container's environment as the kubelet gives it: its ConfigMaps, then env (Secrets by stand-ins). */
function containerEnv(container: Container, objects: K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ref of container.envFrom ?? [])
    Object.assign(
      env,
      objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.configMapRef?.name)?.data,
    );
  for (const entry of container.env ?? []) {
    const value = entry.value ?? SECRET_STAND_INS[entry.name];
    assert.ok(value !== undefined, `${entry.name}: a value or a known secret`);
    env[entry.name] = value;
  }
  return env;
}

describe('deploy/systemd', () => {
  const unitFile = join(SYSTEMD_DIR, 'tessera.service');

  test('the unit: hardening directives, a user of its own (sysusers), StateDirectory, reload by SIGHUP; MemoryDenyWriteExecute deliberately unset', async () => {
    const text = await readFile(unitFile, 'utf8');
    const unit = parseUnit(text);
    const one = (key: string) => {
      const values = directive(unit, 'Service', key);
      assert.equal(values.length, 1, `${key} once`);
      return values[0];
    };
    const hardening: Record<string, string> = {
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes',
      ProtectClock: 'yes',
      ProtectHostname: 'yes',
      ProtectProc: 'invisible',
      RestrictNamespaces: 'yes',
      RestrictRealtime: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      SystemCallArchitectures: 'native',
      SystemCallErrorNumber: 'EPERM',
      UMask: '0077',
      StateDirectory: 'tessera',
      StateDirectoryMode: '0700',
      Type: 'exec',
      ExecReload: '/bin/kill -HUP $MAINPID',
    };
    for (const [key, value] of Object.entries(hardening)) assert.equal(one(key), value, key);
    assert.deepEqual(directive(unit, 'Service', 'SystemCallFilter'), [
      '@system-service',
      '~@privileged @resources io_uring_setup io_uring_enter io_uring_register',
    ]);
    assert.deepEqual(directive(unit, 'Service', 'MemoryDenyWriteExecute'), [], 'V8 JIT needs W+X memory');
    assert.match(text, /# MemoryDenyWriteExecute= is deliberately NOT set: V8's JIT/);
    assert.deepEqual(directive(unit, 'Service', 'DynamicUser'), []);
    const sysusers = await readFile(join(SYSTEMD_DIR, 'tessera.sysusers.conf'), 'utf8');
    assert.match(sysusers, new RegExp(`^u ${one('User')} - "[^"]+" /var/lib/tessera$`, 'm'));
    assert.equal(one('Group'), one('User'));
    assert.match(one('ExecStart') ?? '', /^\/\S+\/tessera serve$/);
  });

  test('its variables and the example env file are settings, none a secret, and together a configuration serve accepts', async () => {
    const unit = parseUnit(await readFile(unitFile, 'utf8'));
    const fromUnit = Object.fromEntries(
      directive(unit, 'Service', 'Environment').map((e) => e.split(/=(.*)/s).slice(0, 2)),
    ) as Record<string, string>;
    assert.deepEqual(directive(unit, 'Service', 'EnvironmentFile'), ['/etc/tessera/tessera.env']);
    const fromFile = envFileEntries(await readFile(join(SYSTEMD_DIR, 'tessera.env'), 'utf8'));
    const commented = [
      ...(await readFile(join(SYSTEMD_DIR, 'tessera.env'), 'utf8')).matchAll(/^# (TESSERA_[A-Z_]+)=/gm),
    ].map((m) => m[1]!);
    assertKnown(
      [...Object.keys(fromUnit), ...Object.keys(fromFile), ...commented],
      'tessera.service / tessera.env',
    );
    assert.deepEqual(
      [...Object.keys(fromUnit), ...Object.keys(fromFile)].filter((k) => SECRET_VARIABLES.has(k)),
      [],
      'no secret in a file kept in git',
    );
    // systemd's specifiers for a system service: %S = /var/lib, %t = /run.
    const expanded = Object.fromEntries(
      Object.entries(fromUnit).map(([k, v]) => [k, v.replace('%S', '/var/lib').replace('%t', '/run')]),
    );
    const config = loadConfig({}, { ...expanded, ...fromFile });
    assert.equal(config.dataDir, `/var/lib/${directive(unit, 'Service', 'StateDirectory')[0]}`);
    assert.equal(config.pidFile, `/run/${directive(unit, 'Service', 'RuntimeDirectory')[0]}/tessera.pid`);
    assert.equal(config.federation.mode, 'mtls');
    assert.equal(config.apiHost, '127.0.0.1');
  });

  test('systemd-analyze verify passes (ExecStart pointed at a stand-in), and the offline security review scores at most 2.0', async (t) => {
    const probe = await run('systemd-analyze', ['--version']);
    if (probe.spawnError)
      throw new Error(`${probe.spawnError}: this test runs systemd-analyze (apt-get install systemd)`);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-unit-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    // verify insists that ExecStart's binary exists; where `npm install -g` puts it varies by host.
    const standIn = join(dir, 'tessera');
    await writeFile(standIn, '#!/bin/sh\n');
    await chmod(standIn, 0o755);
    const unit = (await readFile(unitFile, 'utf8')).replace(/^ExecStart=\S+/m, `ExecStart=${standIn}`);
    assert.ok(unit.includes(`ExecStart=${standIn} serve`));
    const copy = join(dir, 'tessera.service');
    await writeFile(copy, unit);
    const verified = await run('systemd-analyze', ['verify', copy]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.stderr, '');
    const review = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy]);
    assert.equal(review.code, 0, review.stderr);
    const exposure = /Overall exposure level for tessera\.service: (\d+\.\d)/.exec(review.stdout)?.[1];
    t.diagnostic(`exposure ${exposure}`);
    assert.ok(exposure !== undefined && Number(exposure) <= 2.0, `exposure ${exposure}`);
    assert.match(review.stdout, /✗ MemoryDenyWriteExecute=/, 'the one left open on purpose');
  });
});

describe('files the deployment files and the guide name', () => {
  test('every deploy/… path in the guide, the manifests and the units exists; the guide is linked from the README and the Stigmem page', async () => {
    const sources = [
      DEPLOYMENT_GUIDE,
      DOCKERFILE,
      ...['base', 'single-node', 'postgres'].map((d) => join(KUBERNETES_DIR, d, 'kustomization.yaml')),
      join(SYSTEMD_DIR, 'tessera.service'),
    ];
    const named = new Set<string>();
    for (const source of sources)
      for (const match of (await readFile(source, 'utf8')).matchAll(
        /(?<![\w/.])(?:\.\.\/\.\.\/)?(deploy\/(?:Dockerfile|seccomp|kubernetes|systemd|compose)[\w./-]*\w)/g,
      ))
        named.add(match[1]!);
    assert.ok(named.has('deploy/seccomp/tessera-node.json'));
    for (const path of named) await stat(join(REPO_ROOT, path));
    assert.match(
      await readFile(join(REPO_ROOT, 'README.md'), 'utf8'),
      /\]\(docs\/operator\/deployment\.md\)/,
    );
    assert.match(await readFile(join(REPO_ROOT, 'docs/operator/stigmem.md'), 'utf8'), /\]\(deployment\.md\)/);
  });
});
