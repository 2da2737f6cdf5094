// One GET /readyz against a node on this host, as its own supervisor asks it: over the node's own TLS
// material when the listener has TLS, and only from a server whose certificate carries the node's entity
// URI (we dial the bind address, so the host name cannot be what is checked).
import { readFile } from 'node:fs/promises';
import { request as plainRequest } from 'node:http';
import { request } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import type { NodeConfig } from '../node/settings/config.ts';
import { peerIdentityFromDer } from '../tls/identity.ts';
import { clientTlsOptions } from '../tls/policy.ts';

/** The longest /readyz answer read; a node's is a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

export type Listener = 'api' | 'federation';

export interface ReadinessTarget {
  listener: Listener;
  url: string;
  /** PEM material when the listener speaks TLS; the server must hold `entityUri`. */
  tls?: { certPath: string; keyPath: string; caPath: string; entityUri: string };
}

export interface Readiness {
  listener: Listener;
  url: string;
  ready: boolean;
  /** `ready`, `not_ready` (503 with its reason), `unhealthy` (another answer) or `unreachable`. */
  status: 'ready' | 'not_ready' | 'unhealthy' | 'unreachable';
  detail: string;
  /** The node's own `checks`, when it answered with them. */
  checks?: Record<string, string>;
}

/** A wildcard bind is reached on the loopback address of its family. */
function dialHost(bindHost: string): string {
  if (bindHost === '0.0.0.0') return '127.0.0.1';
  if (bindHost === '::' || bindHost === '[::]') return '::1';
  return bindHost;
}

function origin(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** Where the node's listener is and how to speak to it, from the settings `tessera serve` runs with. */
export function readinessTarget(config: NodeConfig, listener: Listener): ReadinessTarget {
  const federation = config.federation;
  if (listener === 'federation' && !config.federationEnabled)
    throw new Error('the federation listener is disabled (TESSERA_FEDERATION_ENABLED=false)');
  const port = listener === 'api' ? config.apiPort : config.federationPort;
  if (port === 0)
    throw new Error(
      `the ${listener} listener is set to port 0 (any free port): give the port the node reports as ${listener === 'api' ? 'TESSERA_API_PORT' : 'TESSERA_FEDERATION_PORT'}`,
    );
  const host = dialHost(listener === 'api' ? config.apiHost : config.federationHost);
  const tls = listener === 'api' ? config.apiTls !== 'off' : federation.mode === 'mtls';
  if (!tls || federation.mode !== 'mtls') return { listener, url: origin('http', host, port) };
  const { certPath, keyPath, caPath } = federation;
  return {
    listener,
    url: origin('https', host, port),
    tls: { certPath, keyPath, caPath, entityUri: config.entityUri },
  };
}

function serverIsOurs(entityUri: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const uris = cert.raw ? peerIdentityFromDer(cert.raw).uris : [];
    return uris.includes(entityUri)
      ? undefined
      : new Error(
          `the server's certificate does not carry ${entityUri} (URI SANs: ${uris.join(', ') || 'none'})`,
        );
  };
}

/** GET /readyz once; never throws (an unreachable node is a result, with the reason). */
export async function checkReadiness(target: ReadinessTarget, timeoutMs: number): Promise<Readiness> {
  const url = new URL('/readyz', target.url);
  const result = (status: Readiness['status'], detail: string, checks?: Record<string, string>) => ({
    listener: target.listener,
    url: url.href,
    ready: status === 'ready',
    status,
    detail,
    ...(checks ? { checks } : {}),
  });
  let tlsOptions = {};
  if (target.tls) {
    const [certPem, keyPem, caPem] = await Promise.all(
      [target.tls.certPath, target.tls.keyPath, target.tls.caPath].map((file) => readFile(file, 'utf8')),
    ).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read the node's TLS material: ${error.code ?? error.message}`);
    });
    tlsOptions = {
      ...clientTlsOptions({ certPem: certPem!, keyPem: keyPem!, caPem: caPem! }),
      checkServerIdentity: serverIsOurs(target.tls.entityUri),
    };
  }
  return new Promise((resolve) => {
    const send = target.tls ? request : plainRequest;
    const req = send(url, { ...tlsOptions, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        let body: { status?: unknown; reason?: unknown; checks?: Record<string, string> } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // judged by the status code below
        }
        if (res.statusCode === 200 && body.status === 'ok') resolve(result('ready', 'ready', body.checks));
        else if (res.statusCode === 503 && body.status === 'not_ready')
          resolve(result('not_ready', String(body.reason ?? 'not ready'), body.checks));
        else resolve(result('unhealthy', `HTTP ${res.statusCode} from ${url.href}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve(result('unreachable', `${url.href}: ${error.code ? `${error.code}: ` : ''}${error.message}`)),
    );
    req.end();
  });
}
