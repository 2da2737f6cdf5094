// deploy/prometheus/tessera-alerts.yml, checked without a Prometheus: it parses as YAML (Debian's yq) into
// rule groups; every metric an expression selects is one the code registers (read from the `new Counter({
// name: 'tessera_…' })` declarations under src/) or a named Prometheus/blackbox-exporter series; every
// label it matches or groups by is one that metric carries; every `$labels.X` of an annotation survives the
// expression's aggregation; and the copy in docs/operator-guide/monitoring.md is the file, byte for byte.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import { loadYaml, PROMETHEUS_RULES, REPO_ROOT } from '../support/deploy.ts';
import { type RegisteredMetric, registeredMetrics } from '../support/registered-metrics.ts';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

/** Series that are not Tessera's: Prometheus's own `up` and the blackbox exporter's probe of /readyz. */
const EXTERNAL = new Set(['up', 'probe_success']);
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
]);

interface Selector {
  name: string;
  matchers: string[];
}

/**
 * The series selectors of a PromQL expression and its `by (…)` labels. Enough PromQL for alert rules:
 * strings, label matchers, range brackets and grouping clauses are taken out first, so what is left that is
 * not a function call, a keyword or a number is a metric name.
 */
function parseExpr(expr: string): { selectors: Selector[]; groupedBy: string[] | null } {
  let text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  let groupedBy: string[] | null = null;
  text = text.replace(/\b(by|without)\s*\(([^)]*)\)/g, (_, _kind: string, list: string) => {
    groupedBy = [...(groupedBy ?? []), ...list.split(',').map((label) => label.trim())];
    return ' ';
  });
  // Vector matching's label lists (`on (…)`, `group_left (…)`) name labels, not series.
  text = text.replace(/\b(on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  text = text.replace(/\[[^\]]*\]/g, ' ');
  const matchersOf = new Map<string, string[]>();
  let n = 0;
  text = text.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g, (_, name: string, body: string) => {
    const key = `__selector${n++}`;
    matchersOf.set(key, [
      name,
      ...[...body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string),
    ]);
    return key;
  });
  const selectors: Selector[] = [];
  for (const match of text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = text.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(word)) continue;
    const selector = matchersOf.get(word);
    if (selector) selectors.push({ name: selector[0] as string, matchers: selector.slice(1) });
    else selectors.push({ name: word, matchers: [] });
  }
  return { selectors, groupedBy };
}

/** The registered metric a selected name refers to (a histogram's _bucket/_sum/_count are its series). */
function resolve(name: string, metrics: Map<string, RegisteredMetric>): RegisteredMetric | undefined {
  const exact = metrics.get(name);
  if (exact) return exact;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = metrics.get(name.slice(0, -suffix.length));
    if (name.endsWith(suffix) && base?.type === 'Histogram') return base;
  }
  return undefined;
}

function labelsOf(name: string, metrics: Map<string, RegisteredMetric>): string[] {
  return [...TARGET_LABELS, ...(resolve(name, metrics)?.labels ?? [])];
}

describe('deploy/prometheus/tessera-alerts.yml', () => {
  let rules: Rule[];
  let metrics: Map<string, RegisteredMetric>;

  before(async () => {
    const file = (await loadYaml(PROMETHEUS_RULES)) as RuleFile;
    rules = file.groups.flatMap((group) => group.rules);
    metrics = await registeredMetrics();
  });

  test('the expression reader finds selectors, matchers and groupings (so the checks below can fail)', () => {
    assert.deepEqual(
      parseExpr('sum by (instance, peer) (increase(tessera_nope_total{result="fail", x=~"a|b"}[15m])) > 3'),
      {
        selectors: [{ name: 'tessera_nope_total', matchers: ['result', 'x'] }],
        groupedBy: ['instance', 'peer'],
      },
    );
    assert.deepEqual(parseExpr('up{job="tessera"} == 0 and on (instance) tessera_insecure_mode'), {
      selectors: [
        { name: 'up', matchers: ['job'] },
        { name: 'tessera_insecure_mode', matchers: [] },
      ],
      groupedBy: null,
    });
    assert.ok(metrics.size >= 20, `the source declares the node's metrics (found ${metrics.size})`);
    assert.deepEqual(metrics.get('tessera_tls_handshake_rejections_total'), {
      type: 'Counter',
      labels: ['side', 'reason'],
    });
    assert.equal(resolve('tessera_http_request_duration_seconds_bucket', metrics)?.type, 'Histogram');
    assert.equal(resolve('tessera_facts_written_total_bucket', metrics), undefined);
  });

  test('parses into groups of alerting rules, each with an expression, a severity and a summary', () => {
    assert.ok(rules.length > 0);
    for (const rule of rules) {
      assert.match(rule.alert, /^Tessera[A-Za-z]+$/);
      assert.equal(typeof rule.expr, 'string', `${rule.alert}: expr`);
      assert.ok(['warning', 'critical'].includes(rule.labels.severity), `${rule.alert}: severity`);
      assert.ok(rule.annotations.summary, `${rule.alert}: summary`);
    }
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');
  });

  test('every metric an expression selects is registered by the code (or a named external series)', () => {
    for (const rule of rules) {
      const { selectors } = parseExpr(rule.expr);
      assert.ok(selectors.length > 0, `${rule.alert}: selects something`);
      for (const { name } of selectors)
        assert.ok(
          EXTERNAL.has(name) || resolve(name, metrics),
          `${rule.alert}: ${name} is not a metric the node registers`,
        );
    }
  });

  test('every label matched or grouped by is one the selected metric carries', () => {
    for (const rule of rules) {
      const { selectors, groupedBy } = parseExpr(rule.expr);
      for (const { name, matchers } of selectors) {
        if (EXTERNAL.has(name)) continue;
        for (const label of [...matchers, ...(groupedBy ?? [])])
          assert.ok(labelsOf(name, metrics).includes(label), `${rule.alert}: ${name} has no label ${label}`);
      }
    }
  });

  test("every $labels.X an annotation shows survives the expression's aggregation", () => {
    for (const rule of rules) {
      const { selectors, groupedBy } = parseExpr(rule.expr);
      const kept = groupedBy ?? selectors.flatMap(({ name }) => labelsOf(name, metrics));
      for (const text of Object.values(rule.annotations))
        for (const [, label] of text.matchAll(/\$labels\.([a-zA-Z_]+)/g))
          assert.ok(kept.includes(label as string), `${rule.alert}: $labels.${label} is not in the result`);
    }
  });

  test('covers what the operator guide promises: expiry, reloads, rejections, peers, lag, quotas, the store', () => {
    const used = new Set(rules.flatMap((rule) => parseExpr(rule.expr).selectors.map((s) => s.name)));
    for (const name of [
      'tessera_tls_cert_expiry_ttl_seconds',
      'tessera_tls_reload_total',
      'tessera_tls_handshake_rejections_total',
      'tessera_federation_peer_degraded',
      'tessera_federation_replication_lag_seconds',
      'tessera_quota_breaches_total',
      'tessera_http_requests_total',
    ])
      assert.ok(used.has(name), `no rule on ${name}`);
  });

  test('docs/operator-guide/monitoring.md shows this file unchanged', async () => {
    const doc = await readFile(`${REPO_ROOT}docs/operator-guide/monitoring.md`, 'utf8');
    const block =
      /<!-- prometheus-rules:start -->\n```yaml\n([\s\S]*?)```\n<!-- prometheus-rules:end -->/.exec(doc);
    assert.ok(block, 'monitoring.md has the marked yaml block');
    assert.equal(block[1], await readFile(PROMETHEUS_RULES, 'utf8'));
  });
});
