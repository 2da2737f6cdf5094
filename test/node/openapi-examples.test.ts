// Every request example of the API description, sent to real nodes over real TLS: node A (API over HTTP on
// loopback, federation over mTLS) with node B as the peer it adds and approves, and B calling A's federation
// routes with its certificate and peer tokens. Each example must get a 2xx, and every answer must match the
// schema documented for its status. Operations without examples are called once without input.
// Values only a node can make (a peer's URL and fingerprint, the id of a key or capability made earlier in
// the run) replace the example's placeholders, each named below; everything else is sent as documented.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import type { RequestExample, RouteDoc } from '../../src/node/http/openapi/route-doc.ts';
import { clientTlsOptions } from '../../src/tls/policy.ts';
import { peerToken } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';
import {
  callableRoutes,
  type RecordedRoute,
  routeRecorder,
  templatedPath,
} from '../support/route-recorder.ts';
import { startTlsNode, type TlsNode } from '../support/tls-node.ts';

type Values = Record<string, unknown>;
interface Answer {
  status: number;
  contentType: string;
  body: unknown;
}

/** Run first (they make what later examples use) and last (they take away what others need), by key. */
const FIRST = [
  'POST /v1/facts',
  'POST /v1/admin/api-keys',
  'POST /v1/capabilities',
  'POST /v1/admin/peers',
  'POST /v1/admin/peers/{id}/approve',
];
const LAST = [
  'DELETE /v1/admin/api-keys/{id}',
  'POST /v1/capabilities/{id}/revoke',
  'POST /v1/admin/peers/{id}/revoke',
];

describe('every documented request example, on real nodes', () => {
  let root: string;
  let a: TlsNode;
  let b: TlsNode;
  let routes: RecordedRoute[];

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-openapi-'));
    const recorder = routeRecorder();
    [a, b] = await Promise.all([
      startTlsNode({ name: 'a', ca, root, features: [recorder.feature] }),
      startTlsNode({ name: 'b', ca, root }),
    ]);
    routes = callableRoutes(recorder.routes);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  test('each is accepted (2xx) and each answer matches its documented schema', async () => {
    // What the run has made so far, for the examples that name it.
    const made: { peer?: { id: string; fingerprint: string }; keyId?: string; capabilityId?: string } = {};
    const replace = (example: RequestExample, part: 'params' | 'body', values: Values): RequestExample => {
      const given = example[part] as Values | undefined;
      for (const key of Object.keys(values))
        assert.ok(given && key in given, `the example names ${part}.${key}, which only a node can make`);
      return { ...example, [part]: { ...given, ...values } };
    };
    const live: Record<string, (example: RequestExample) => RequestExample> = {
      'POST /v1/admin/peers': (example) => replace(example, 'body', { url: b.node.federationUrl }),
      'POST /v1/admin/peers/{id}/approve': (example) =>
        replace(replace(example, 'params', { id: made.peer?.id }), 'body', {
          fingerprint: made.peer?.fingerprint,
        }),
      'POST /v1/admin/peers/{id}/revoke': (example) => replace(example, 'params', { id: made.peer?.id }),
      'DELETE /v1/admin/api-keys/{id}': (example) => replace(example, 'params', { id: made.keyId }),
      'POST /v1/capabilities/{id}/revoke': (example) => replace(example, 'params', { id: made.capabilityId }),
    };
    const remember: Record<string, (body: Values) => void> = {
      'POST /v1/admin/peers': (body) => {
        made.peer = { id: String(body.id), fingerprint: String(body.fingerprint) };
      },
      'POST /v1/admin/api-keys': (body) => {
        made.keyId = String(body.id);
      },
      'POST /v1/capabilities': (body) => {
        made.capabilityId = String(body.id);
      },
    };

    const rank = (route: RecordedRoute) => {
      const key = `${route.method} ${templatedPath(route.url)}`;
      if (FIRST.includes(key)) return FIRST.indexOf(key) - FIRST.length;
      if (LAST.includes(key)) return 1 + LAST.indexOf(key);
      return 0;
    };
    const ordered = [...routes].sort((x, y) => rank(x) - rank(y));
    let sent = 0;
    for (const route of ordered) {
      const doc = route.config.openapi as RouteDoc;
      const key = `${route.method} ${templatedPath(route.url)}`;
      const examples = Object.entries(doc.examples ?? {});
      const calls: [string, RequestExample][] =
        examples.length > 0 ? examples : [['(no input)', { summary: '' }]];
      for (const [name, documented] of calls) {
        const example = route.listener === 'api' ? (live[key]?.(documented) ?? documented) : documented;
        const at = `${route.listener} ${key} example ${name}`;
        const answer =
          route.listener === 'api' ? await callApi(a, route, example) : await callFederation(route, example);
        sent++;
        assert.ok(
          answer.status >= 200 && answer.status < 300,
          `${at}: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
        const response = doc.responses[answer.status];
        assert.ok(response, `${at}: status ${answer.status} is documented`);
        assert.ok(
          answer.contentType.startsWith(response.contentType ?? 'application/json'),
          `${at}: ${answer.contentType}`,
        );
        if (response.schema) {
          const parsed = response.schema.safeParse(answer.body);
          assert.ok(parsed.success, `${at}: the answer does not match its schema: ${parsed.error?.message}`);
        }
        remember[key]?.(answer.body as Values);
      }
    }
    assert.ok(made.peer && made.keyId && made.capabilityId, 'the examples that make things ran');
    assert.ok(sent > 35, `${sent} requests`);
  });

  /** B calls A's federation listener over mTLS, with a fresh peer token on the routes that need one. */
  async function callFederation(route: RecordedRoute, example: RequestExample): Promise<Answer> {
    const material = {
      certPem: await readFile(b.tls.certPath, 'utf8'),
      keyPem: await readFile(b.tls.keyPath, 'utf8'),
      caPem: await readFile(b.tls.caPath, 'utf8'),
    };
    const dispatcher = new Agent({
      connect: { ...clientTlsOptions(material), checkServerIdentity: () => undefined } as NonNullable<
        Agent.Options['connect']
      >,
    });
    try {
      const needsToken = (route.config.access ?? 'admin') !== 'open';
      const token = needsToken ? await peerToken(b.dataDir, b.entityUri, a.entityUri) : undefined;
      return await send(a.node.federationUrl, route, example, {
        dispatcher,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    } finally {
      await dispatcher.close();
    }
  }
});

/** A's API with its static admin key (every permission). */
function callApi(node: TlsNode, route: RecordedRoute, example: RequestExample): Promise<Answer> {
  return send(node.node.apiUrl, route, example, {
    headers: { authorization: `Bearer ${node.identity.apiKey}` },
  });
}

async function send(
  base: string,
  route: RecordedRoute,
  example: RequestExample,
  options: { dispatcher?: Agent; headers: Record<string, string> },
): Promise<Answer> {
  const params = (example.params ?? {}) as Values;
  const path = route.url.replace(/:([A-Za-z0-9_]+)/g, (_all, name: string) => {
    assert.ok(params[name] !== undefined, `${route.method} ${route.url}: the example gives no ${name}`);
    return encodeURIComponent(String(params[name]));
  });
  const url = new URL(path, base);
  for (const [name, value] of Object.entries((example.query ?? {}) as Values))
    url.searchParams.set(name, String(value));
  const response = await request(url, {
    method: route.method as 'GET',
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    headers: {
      ...options.headers,
      ...(example.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(example.body !== undefined ? { body: JSON.stringify(example.body) } : {}),
  });
  const contentType = String(response.headers['content-type'] ?? '');
  const text = await response.body.text();
  return {
    status: response.statusCode,
    contentType,
    body: contentType.startsWith('application/json') ? JSON.parse(text) : text,
  };
}
