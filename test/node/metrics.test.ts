// The node's metrics live in one registry the composition creates and passes in: /metrics shows the TLS
// core's and the node's metrics together, and two nodes in one process never share a counter.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { counterValue } from '../support/metrics.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../support/node-app.ts';

const apps: NodeApp[] = [];
after(() => Promise.all(apps.map((app) => app.close())));

async function node(): Promise<NodeApp> {
  const app = await startNodeApp({ clock: manualClock().clock });
  apps.push(app);
  return app;
}

test('/metrics serves the TLS core and the node from one registry', async () => {
  const a = await node();
  const response = await a.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.match(
    response.body,
    /^tessera_insecure_mode 1$/m,
    'the TLS core gauge (this fixture federates insecurely)',
  );
  assert.match(response.body, /^# TYPE tessera_facts_written_total counter$/m, 'a node counter');
  assert.match(response.body, /^# TYPE tessera_tls_reload_total counter$/m);
});

test('two nodes in one process count separately', async () => {
  const [a, b] = [await node(), await node()];
  const token = await a.key(['write']);
  const written = await a.app.inject({
    method: 'POST',
    url: '/v1/facts',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    payload: JSON.stringify(FACT),
  });
  assert.equal(written.statusCode, 201);
  assert.equal(await counterValue(a.node.metrics, 'tessera_facts_written_total', {}), 1);
  assert.equal(await counterValue(b.node.metrics, 'tessera_facts_written_total', {}), 0);
});
