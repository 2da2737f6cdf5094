// The CLI's client for a node's HTTP API: the URL and the API key are settings of the table (TESSERA_API_URL
// or --api; TESSERA_API_KEY, never a flag, which would show in `ps`), TLS material from flags; an error
// answer becomes "<code>: <detail>".
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

export interface ApiTarget {
  api: string;
  apiKey?: string | undefined;
  ca?: string;
  cert?: string;
  key?: string;
}

export async function apiCall<T>(
  target: ApiTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const read = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);
  const dispatcher = new Agent({
    connect: {
      ...(target.ca ? { ca: read(target.ca) } : {}),
      ...(target.cert ? { cert: read(target.cert) } : {}),
      ...(target.key ? { key: read(target.key) } : {}),
      minVersion: 'TLSv1.3',
    },
  });
  const key = target.apiKey;
  try {
    const response = await request(new URL(path, target.api), {
      method,
      dispatcher,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).catch((error: NodeJS.ErrnoException) => {
      throw new Error(unreachable(target, error));
    });
    const text = await response.body.text();
    const parsed = parseJson(text);
    if (response.statusCode >= 400) {
      const error = parsed as { error?: string; detail?: string } | null | undefined;
      throw new Error(`${error?.error ?? response.statusCode}: ${error?.detail ?? text}`);
    }
    if (parsed === undefined)
      throw new Error(`${target.api} answered ${response.statusCode} with a body that is not JSON`);
    return parsed as T;
  } finally {
    await dispatcher.close();
  }
}

/** The body as JSON; null when empty, undefined when it is not JSON (e.g. a proxy's HTML error page). */
function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Under TLS 1.3 a server that wants a client certificate just closes the socket: say so. */
function unreachable(target: ApiTarget, error: NodeJS.ErrnoException): string {
  const message = `cannot reach the API at ${target.api}: ${error.message}`;
  if (target.api.startsWith('https:') && error.code === 'UND_ERR_SOCKET' && !target.cert)
    return `${message} (an mtls API needs a client certificate: --cert and --key)`;
  return message;
}
