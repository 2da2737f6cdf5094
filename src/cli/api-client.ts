// The CLI's client for a node's HTTP API: the API key comes from TESSERA_API_KEY (never a flag, which
// would show in `ps`), TLS material from flags; an error answer becomes "<code>: <detail>".
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

export interface ApiTarget {
  api: string;
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
  const key = process.env.TESSERA_API_KEY;
  try {
    const response = await request(new URL(path, target.api), {
      method,
      dispatcher,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (response.statusCode >= 400) {
      const error = parsed as { error?: string; detail?: string } | null;
      throw new Error(`${error?.error ?? response.statusCode}: ${error?.detail ?? text}`);
    }
    return parsed as T;
  } finally {
    await dispatcher.close();
  }
}
