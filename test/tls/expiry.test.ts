// Rule 6: expiry gauges for our leaf, the served chain's minimum, each CA and the peers seen, and
// warning / critical / expired events inside configurable windows, all against an injected clock.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildCertificate, type IssuedCertificate } from '../../src/pki/certificate.ts';
import type { Clock } from '../../src/tls/clock.ts';
import { type ExpiryEvent, ExpiryMonitor, type ExpiryOptions } from '../../src/tls/expiry.ts';
import { peerIdentityFromDer } from '../../src/tls/identity.ts';
import type { Logger } from '../../src/tls/logger.ts';
import { loadMaterial, type Material } from '../../src/tls/material.ts';
import { createTestCa, DAY_MS, type TestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import { openStaticCredentials, silentLogger, testMetrics } from '../support/tls-peers.ts';

const tls = testMetrics();
const EXPIRY = 'tessera_tls_cert_expiry_timestamp_seconds';
const TTL = 'tessera_tls_cert_expiry_ttl_seconds';

// Whole seconds: X.509 validity has second precision.
const T0 = Math.floor(Date.now() / 1000) * 1000;
const at = (days: number) => new Date(T0 + days * DAY_MS);

/** Current value of a gauge for one `cert` label, or undefined when that series does not exist. */
async function gauge(name: string, cert: string): Promise<number | undefined> {
  const metric = tls.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  return values.find((v) => v.labels.cert === cert)?.value;
}

/** A clock the test moves by hand. */
function manualClock(start = new Date(T0)): Clock & { set(date: Date): void } {
  let now = start;
  const clock = (() => now) as Clock & { set(date: Date): void };
  clock.set = (date) => {
    now = date;
  };
  return clock;
}

function monitor(clock: Clock, options: ExpiryOptions = {}, logger: Logger = silentLogger) {
  const events: ExpiryEvent[] = [];
  const m = new ExpiryMonitor({ clock, checkIntervalMs: 0, logger, metrics: tls.metrics, ...options });
  m.on('expiry', (event) => events.push(event));
  return { m, events };
}

let root: TestCa;
let intermediate: IssuedCertificate;
let leaf: IssuedCertificate;
let material: Material;

before(async () => {
  // Root valid for a year, intermediate for 40 days, leaf for 90 days: chain_min is the intermediate.
  root = await createTestCa('Expiry Root', { notBefore: at(-1), notAfter: at(365) });
  intermediate = await buildCertificate({
    subjectCN: 'Expiry Intermediate',
    isCa: true,
    issuer: { certPem: root.certPem, keyPem: root.keyPem },
    notBefore: at(-1),
    notAfter: at(40),
  });
  leaf = await buildCertificate({
    subjectCN: 'node',
    uris: [testUri('node')],
    issuer: { certPem: intermediate.chainPem, keyPem: intermediate.keyPem },
    notBefore: at(-1),
    notAfter: at(90),
  });
  // An after() registered inside a hook runs when the hook ends: the files are gone once loaded, as intended.
  const dir = await tempDir({ after });
  const paths = await writeMaterial(dir, 'node', leaf, root.certPem);
  material = await loadMaterial(paths, { clock: () => new Date(T0) });
  assert.equal(material.chain.length, 2, 'node.crt holds leaf, intermediate, root');
});

describe('expiry gauges', () => {
  test('leaf, chain_min (soonest of the served chain), each CA: notAfter and TTL in seconds', async () => {
    const clock = manualClock();
    const { m } = monitor(clock);
    m.setMaterial(material);
    const expected: [string, Date][] = [
      ['leaf', at(90)],
      ['chain_min', at(40)],
      ['ca:CN=Expiry Root', at(365)],
    ];
    for (const [label, notAfter] of expected) {
      assert.equal(await gauge(EXPIRY, label), notAfter.getTime() / 1000, `${label} expiry timestamp`);
      assert.equal(await gauge(TTL, label), (notAfter.getTime() - T0) / 1000, `${label} ttl`);
    }
    // The TTL follows the clock on the next check.
    clock.set(at(10));
    m.check();
    assert.equal(await gauge(TTL, 'leaf'), 80 * 86_400);
    assert.equal(await gauge(TTL, 'chain_min'), 30 * 86_400);
    // Past notAfter the TTL is negative.
    clock.set(new Date(at(40).getTime() + 5_000));
    m.check();
    assert.equal(await gauge(TTL, 'chain_min'), -5);
    m.close();
  });

  test('an observed peer gets peer:<URI SAN> gauges; check() reports it when it nears expiry', async () => {
    const clock = manualClock();
    const { m, events } = monitor(clock);
    const peerCert = await root.issue('peer-x', { notBefore: at(-1), notAfter: at(3) });
    const peer = peerIdentityFromDer(new X509Certificate(peerCert.certPem).raw);
    m.observePeer(peer);
    const label = `peer:${testUri('peer-x')}`;
    assert.equal(await gauge(EXPIRY, label), at(3).getTime() / 1000);
    assert.equal(await gauge(TTL, label), 3 * 86_400);
    assert.equal(events.length, 0, 'observing a peer updates gauges without an event');
    const reported = m.check();
    assert.deepEqual(
      reported.map((e) => [e.cert, e.level, e.subject]),
      [[label, 'critical', 'CN=peer-x']],
    );
    assert.equal(events.length, 1);
    m.close();
  });

  test('tracked() lists our certificates, then peers, each with its level at the current clock', async () => {
    const clock = manualClock();
    const { m } = monitor(clock, { warningDays: 45, criticalDays: 7 });
    m.setMaterial(material);
    const peerCert = await root.issue('peer-t', { notBefore: at(-1), notAfter: at(5) });
    m.observePeer(peerIdentityFromDer(new X509Certificate(peerCert.certPem).raw));
    const levels = () => m.tracked().map((c) => [c.cert, c.level, c.notAfter.getTime()]);
    assert.deepEqual(levels(), [
      ['leaf', 'ok', at(90).getTime()],
      ['chain_min', 'warning', at(40).getTime()],
      ['ca:CN=Expiry Root', 'ok', at(365).getTime()],
      [`peer:${testUri('peer-t')}`, 'critical', at(5).getTime()],
    ]);
    assert.deepEqual(m.windows, { warningMs: 45 * DAY_MS, criticalMs: 7 * DAY_MS });
    clock.set(at(6));
    assert.equal(m.tracked().at(-1)?.level, 'expired', 'levels follow the clock');
    m.close();
  });

  test('peer series are bounded by maxPeers: the oldest is dropped from the gauges', async () => {
    const { m } = monitor(manualClock(), { maxPeers: 2 });
    const labels: string[] = [];
    for (const name of ['p1', 'p2', 'p3']) {
      const cert = await root.issue(name, { notBefore: at(-1), notAfter: at(60) });
      m.observePeer(peerIdentityFromDer(new X509Certificate(cert.certPem).raw));
      labels.push(`peer:${testUri(name)}`);
    }
    assert.equal(await gauge(EXPIRY, labels[0]!), undefined, 'p1 dropped');
    assert.equal(await gauge(EXPIRY, labels[1]!), at(60).getTime() / 1000);
    assert.equal(await gauge(EXPIRY, labels[2]!), at(60).getTime() / 1000);
    m.close();
  });

  test('a peer seen again moves to most recent; a renewed certificate updates its gauges', async () => {
    const { m } = monitor(manualClock(), { maxPeers: 2 });
    const identity = async (name: string, days: number) =>
      peerIdentityFromDer(
        new X509Certificate((await root.issue(name, { notBefore: at(-1), notAfter: at(days) })).certPem).raw,
      );
    const [p1, p2, p3] = [await identity('q1', 60), await identity('q2', 60), await identity('q3', 60)];
    m.observePeer(p1);
    m.observePeer(p2);
    m.observePeer(p1); // every connection of q1 observes it again: q2 is now the least recent
    m.observePeer(p3);
    const label = (name: string) => `peer:${testUri(name)}`;
    assert.equal(await gauge(EXPIRY, label('q2')), undefined, 'q2 dropped, not q1');
    assert.equal(await gauge(EXPIRY, label('q1')), at(60).getTime() / 1000);
    assert.equal(m.tracked().filter((c) => c.cert === label('q1')).length, 1, 'one entry per peer');
    m.observePeer(await identity('q1', 90)); // q1 renewed: same label, a later notAfter
    assert.equal(await gauge(EXPIRY, label('q1')), at(90).getTime() / 1000);
    assert.equal(await gauge(TTL, label('q1')), 90 * 86_400);
    m.close();
  });

  test('a peer dropped from the tracked set is filed again, gauges and all, when the same certificate returns', async () => {
    const { m } = monitor(manualClock(), { maxPeers: 1 });
    const identity = async (name: string) =>
      peerIdentityFromDer(
        new X509Certificate((await root.issue(name, { notBefore: at(-1), notAfter: at(40) })).certPem).raw,
      );
    const [p1, p2] = [await identity('r1'), await identity('r2')];
    const label = (name: string) => `peer:${testUri(name)}`;
    m.observePeer(p1);
    m.observePeer(p1);
    m.observePeer(p2); // over maxPeers: r1 dropped
    assert.equal(await gauge(EXPIRY, label('r1')), undefined);
    // The same identity object as before (identity.ts shares it): it must not pass as still filed.
    m.observePeer(p1);
    assert.equal(await gauge(EXPIRY, label('r1')), at(40).getTime() / 1000);
    assert.equal(await gauge(EXPIRY, label('r2')), undefined, 'r2 dropped in turn');
    assert.deepEqual(
      m
        .tracked()
        .filter((c) => c.cert.startsWith('peer:'))
        .map((c) => c.cert),
      [label('r1')],
    );
    m.close();
  });

  test('tracking a credential source follows reloads; series of a replaced CA are removed', async (t) => {
    const ca = await createTestCa('Tracked CA One');
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node', { notAfter: at(50) }), ca.certPem);
    const source = await openStaticCredentials(paths);
    t.after(() => source.close());
    const m = new ExpiryMonitor({ checkIntervalMs: 0, logger: silentLogger, metrics: tls.metrics }).track(
      source,
    );
    t.after(() => m.close());
    assert.equal(await gauge(EXPIRY, 'leaf'), at(50).getTime() / 1000);
    assert.ok((await gauge(EXPIRY, 'ca:CN=Tracked CA One')) !== undefined);

    const ca2 = await createTestCa('Tracked CA Two');
    await writeMaterial(dir, 'node', await ca2.issue('node', { notAfter: at(70) }), ca2.certPem);
    assert.equal((await source.reload()).result, 'success');
    assert.equal(await gauge(EXPIRY, 'leaf'), at(70).getTime() / 1000);
    assert.ok((await gauge(EXPIRY, 'ca:CN=Tracked CA Two')) !== undefined);
    assert.equal(await gauge(EXPIRY, 'ca:CN=Tracked CA One'), undefined, 'the old CA series is gone');
  });
});

describe('expiry events', () => {
  /** Material whose leaf and CA both expire far apart; only the leaf crosses the windows here. */
  const leafEvents = (events: ExpiryEvent[]) => events.filter((e) => e.cert === 'leaf');

  test('default windows: >30 d none, ≤30 d warning, ≤7 d critical, past notAfter expired', () => {
    const clock = manualClock();
    const lines: { level: string; obj: Record<string, unknown> }[] = [];
    const logger: Logger = {
      info: () => {},
      debug: () => {},
      warn: (obj) => lines.push({ level: 'warn', obj: obj as Record<string, unknown> }),
      error: (obj) => lines.push({ level: 'error', obj: obj as Record<string, unknown> }),
    };
    const { m, events } = monitor(clock, {}, logger);

    assert.deepEqual(leafEvents(m.setMaterial(material)), [], '90 days left: nothing');

    clock.set(at(90 - 31));
    assert.deepEqual(leafEvents(m.check()), [], '31 days left: nothing');

    clock.set(at(90 - 30));
    const [warning] = leafEvents(m.check());
    assert.deepEqual(warning, {
      level: 'warning',
      cert: 'leaf',
      subject: 'CN=node',
      notAfter: at(90),
      secondsLeft: 30 * 86_400,
    });

    clock.set(at(90 - 7));
    assert.equal(leafEvents(m.check())[0]?.level, 'critical');

    clock.set(new Date(at(90).getTime() + 1000));
    const [expired] = leafEvents(m.check());
    assert.equal(expired?.level, 'expired');
    assert.equal(expired?.secondsLeft, -1);

    const emitted = leafEvents(events).map((e) => e.level);
    assert.deepEqual(emitted, ['warning', 'critical', 'expired'], "the same events reach 'expiry' listeners");
    const logged = lines.filter((l) => l.obj.event === 'tls_cert_expiry' && l.obj.cert === 'leaf');
    assert.deepEqual(
      logged.map((l) => [l.level, l.obj.level]),
      [
        ['warn', 'warning'],
        ['error', 'critical'],
        ['error', 'expired'],
      ],
    );
    m.close();
  });

  test('chain_min and CA certificates raise their own events', () => {
    const clock = manualClock(at(40 - 6));
    const { m } = monitor(clock);
    const events = m.setMaterial(material);
    assert.deepEqual(
      events.map((e) => [e.cert, e.level]),
      [['chain_min', 'critical']],
      'the intermediate (6 days left) is critical; leaf (56 d) and root are fine',
    );
    clock.set(at(365 - 20));
    const late = m.check().map((e) => [e.cert, e.level]);
    assert.deepEqual(late, [
      ['leaf', 'expired'],
      ['chain_min', 'expired'],
      ['ca:CN=Expiry Root', 'warning'],
    ]);
    m.close();
  });

  test('configurable windows: warning 10 d, critical 2 d', () => {
    const clock = manualClock();
    const { m } = monitor(clock, { warningDays: 10, criticalDays: 2 });
    m.setMaterial(material);
    clock.set(at(90 - 20));
    assert.deepEqual(leafEvents(m.check()), [], '20 days left is outside a 10-day warning window');
    clock.set(at(90 - 10));
    assert.equal(leafEvents(m.check())[0]?.level, 'warning');
    clock.set(at(90 - 3));
    assert.equal(
      leafEvents(m.check())[0]?.level,
      'warning',
      '3 days left is outside a 2-day critical window',
    );
    clock.set(at(90 - 2));
    assert.equal(leafEvents(m.check())[0]?.level, 'critical');
    assert.equal(m.levelOf(at(90 - 2 + 11)), 'ok', '11 days ahead of the clock');
    assert.equal(m.levelOf(at(90 - 2 + 10)), 'warning');
    m.close();
  });

  test('a zero critical window: critical only at expiry, which is "expired"', () => {
    const clock = manualClock(at(90 - 1));
    const { m } = monitor(clock, { warningDays: 5, criticalDays: 0 });
    m.setMaterial(material);
    assert.equal(m.levelOf(at(90)), 'warning');
    assert.equal(m.levelOf(at(89)), 'expired');
    m.close();
  });

  test('invalid windows are refused: critical > warning, negative, not a number', () => {
    const message = /expiry windows must satisfy 0 <= critical \(\S+\) <= warning \(\S+\) days/;
    assert.throws(() => new ExpiryMonitor({ warningDays: 5, criticalDays: 10, checkIntervalMs: 0 }), {
      name: 'RangeError',
      message: /critical \(10\) <= warning \(5\)/,
    });
    assert.throws(() => new ExpiryMonitor({ criticalDays: -1, checkIntervalMs: 0 }), {
      name: 'RangeError',
      message,
    });
    assert.throws(() => new ExpiryMonitor({ warningDays: Number.NaN, checkIntervalMs: 0 }), {
      name: 'RangeError',
      message,
    });
    assert.throws(() => new ExpiryMonitor({ criticalDays: Number.NaN, checkIntervalMs: 0 }), {
      name: 'RangeError',
      message,
    });
  });
});
