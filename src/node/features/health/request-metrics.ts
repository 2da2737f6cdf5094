// Per-route request metrics for any node listener: a counter by route, method and status and a latency
// histogram. The route label is the route pattern (/v1/facts/:id), never the raw URL, so label
// cardinality stays bounded whatever clients send.
import type { FastifyInstance } from 'fastify';
import type { NodeMetrics } from '../../metrics.ts';

export function installRequestMetrics(
  app: FastifyInstance,
  listener: 'api' | 'federation',
  metrics: Pick<NodeMetrics, 'httpRequests' | 'httpLatency'>,
): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    metrics.httpRequests.inc({ listener, route, method, status: String(reply.statusCode) });
    metrics.httpLatency.observe({ listener, route, method }, reply.elapsedTime / 1000);
  });
}
