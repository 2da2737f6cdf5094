// Real reverse proxies for the proxy-terminated mTLS tests: Debian's nginx and HAProxy, each started from a
// config written to a temp directory, on free loopback ports, in the foreground, and stopped by pid. Missing
// binaries skip those tests, or fail them under TESSERA_TEST_PROXIES=required (set by .ci/run, which
// installs both packages when missing).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptsConnections, findBinary, launch, type ServerProcess } from './private-server.ts';

export const REQUIRE_PROXIES = process.env['TESSERA_TEST_PROXIES'] === 'required';

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The binary, or a skip message (a thrown error under TESSERA_TEST_PROXIES=required). */
export function proxyBinary(name: 'nginx' | 'haproxy'): { path: string } | { skip: string } {
  const path = findBinary(name, SBIN);
  if (path) return { path };
  const message = `${name} is not installed (apt-get install ${name}; TESSERA_TEST_PROXIES=required makes this a failure)`;
  if (REQUIRE_PROXIES) throw new Error(`TESSERA_TEST_PROXIES=required: ${message}`);
  return { skip: message };
}

export interface RunningProxy {
  process: ServerProcess;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (the proxy finished starting). */
async function listening(port: number, proc: ServerProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (await acceptsConnections(port)) return;
    if (exited) throw new Error(`the proxy exited before listening:\n${proc.tail(40)}`);
    if (Date.now() > deadline) throw new Error(`the proxy is not listening on ${port}:\n${proc.tail(40)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** nginx in the foreground with one process (`master_process off`), its files under `dir`. */
export async function startNginx(
  binary: string,
  dir: string,
  httpBlock: string,
  port: number,
): Promise<RunningProxy> {
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      'master_process off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr notice;',
      'events { worker_connections 64; }',
      'http {',
      `  access_log off;`,
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      httpBlock,
      '}',
      '',
    ].join('\n'),
  );
  const proc = launch(undefined, binary, ['-p', dir, '-c', conf, '-g', 'daemon off;']);
  await listening(port, proc);
  return { process: proc, stop: () => proc.stop('SIGQUIT') };
}

/** HAProxy in the foreground (`-db`) from `config`. */
export async function startHaproxy(
  binary: string,
  dir: string,
  config: string,
  port: number,
): Promise<RunningProxy> {
  const conf = join(dir, 'haproxy.cfg');
  await writeFile(conf, config);
  const proc = launch(undefined, binary, ['-f', conf, '-db']);
  await listening(port, proc);
  return { process: proc, stop: () => proc.stop('SIGTERM') };
}
