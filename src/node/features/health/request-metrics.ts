// Per-route request metrics for any node listener: a counter by route, method and status and a latency
// histogram. The route label is the route pattern (/v1/facts/:id), never the raw URL, so label
// cardinality stays bounded whatever clients send.
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import { registry } from '../../../tls/metrics.ts';

const requests = new Counter({
  name: 'tessera_http_requests_total',
  help: 'HTTP requests answered, by listener, route pattern, method and status',
  labelNames: ['listener', 'route', 'method', 'status'] as const,
  registers: [registry],
});

const latency = new Histogram({
  name: 'tessera_http_request_duration_seconds',
  help: 'HTTP request latency from first byte to response, by listener and route pattern',
  labelNames: ['listener', 'route', 'method'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export function installRequestMetrics(app: FastifyInstance, listener: 'api' | 'federation'): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    requests.inc({ listener, route, method, status: String(reply.statusCode) });
    latency.observe({ listener, route, method }, reply.elapsedTime / 1000);
  });
}
