// A private MariaDB for one test file: mariadb-install-db into a temp directory, TLS with a server
// certificate from the test's CA, `require_secure_transport=ON`, TCP on 127.0.0.1 only, root only over a
// unix socket in the temp directory. Started and stopped by pid; under root it runs as the `mysql` account
// (mariadbd refuses root without --user).
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { ServerCertificate } from './private-postgres.ts';
import {
  chownTree,
  findBinary,
  freePort,
  launch,
  runAs,
  type ServerProcess,
  type ServiceUser,
  serverDir,
  serviceUser,
  writeOwned,
} from './private-server.ts';

export interface MariadbBinaries {
  installDb: string;
  server: string;
}

/** mariadbd in /usr/sbin or PATH and mariadb-install-db beside it or in PATH; undefined when not installed. */
export function mariadbBinaries(): MariadbBinaries | undefined {
  const server = findBinary('mariadbd', ['/usr/sbin']) ?? findBinary('mysqld', ['/usr/sbin']);
  const installDb =
    findBinary('mariadb-install-db', ['/usr/bin', '/usr/local/bin']) ?? findBinary('mysql_install_db');
  return server && installDb ? { installDb, server } : undefined;
}

/** What a user must present: any certificate from the CA, or one with exactly this subject. */
export type X509Requirement = 'X509' | { subject: string };

export interface PrivateMariadbOptions {
  serverCert: ServerCertificate;
  /** The CA certificates that client certificates must chain to (`ssl_ca`). */
  clientCaPem: string;
}

export interface PrivateMariadb {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Runs SQL as root (over the unix socket) and returns the rows. */
  query<Row extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** A user without a password that must connect over TLS presenting a certificate as `require` says. */
  createUser(name: string, require: X509Requirement): Promise<void>;
  /** Changes what the user must present (new logins only; open sessions keep going). */
  requireFor(name: string, require: X509Requirement): Promise<void>;
  /** Replaces the server certificate and key; after `FLUSH SSL` new connections get them. */
  reloadServerCert(cert: ServerCertificate): Promise<void>;
  /** Fast shutdown by pid (SIGTERM), then the temp directory is removed. Idempotent. */
  stop(): Promise<void>;
}

/** The subject as MariaDB compares it for REQUIRE SUBJECT (OpenSSL's one-line form, e.g. `/CN=alice`). */
export function mariadbSubject(certPem: string): string {
  return new X509Certificate(certPem).subject
    .split('\n')
    .map((rdn) => `/${rdn}`)
    .join('');
}

const READY = /ready for connections/;
const PORT_TAKEN = /Address already in use|Can't start server: Bind on TCP\/IP port/;

export async function startPrivateMariadb(options: PrivateMariadbOptions): Promise<PrivateMariadb> {
  const binaries = mariadbBinaries();
  if (!binaries) throw new Error('MariaDB server binaries (mariadbd, mariadb-install-db) not found');
  const user = serviceUser(['mysql']);
  const dir = await serverDir('tessera-mariadb-');
  try {
    const dataDir = join(dir.path, 'data');
    const files = {
      cert: join(dir.path, 'server.crt'),
      key: join(dir.path, 'server.key'),
      ca: join(dir.path, 'client-ca.crt'),
      socket: join(dir.path, 'mysqld.sock'),
    };
    await writeFile(files.cert, options.serverCert.chainPem);
    await writeFile(files.key, options.serverCert.keyPem, { mode: 0o600 });
    await writeFile(files.ca, options.clientCaPem);
    await chownTree(dir.path, user);
    // root@localhost with an empty password over the socket; no test database, no name lookups.
    await runAs(user, binaries.installDb, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
    ]);
    const args = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${files.socket}`,
      `--pid-file=${join(dir.path, 'mysqld.pid')}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      `--ssl-cert=${files.cert}`,
      `--ssl-key=${files.key}`,
      `--ssl-ca=${files.ca}`,
      '--require-secure-transport=ON',
      '--innodb-buffer-pool-size=16M',
      '--innodb-flush-log-at-trx-commit=0',
      '--skip-innodb-doublewrite',
      '--max-connections=100',
    ];
    const { server, port } = await startOnFreePort(user, binaries.server, args);
    return privateMariadb(server, port, dir, files, user);
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

async function startOnFreePort(
  user: ServiceUser | undefined,
  file: string,
  args: string[],
): Promise<{ server: ServerProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = launch(user, file, [...args, `--port=${port}`]);
    try {
      await server.waitForLine(READY);
      return { server, port };
    } catch (error) {
      await server.stop('SIGKILL');
      // Another process took the port between freePort() and the bind: try another one.
      if (attempt < 5 && PORT_TAKEN.test(server.tail())) continue;
      throw error;
    }
  }
}

function requirement(require: X509Requirement): string {
  return require === 'X509' ? 'X509' : `SUBJECT ${mysql.escape(require.subject)}`;
}

function privateMariadb(
  server: ServerProcess,
  port: number,
  dir: { path: string; remove(): Promise<void> },
  files: { cert: string; key: string; socket: string },
  user: ServiceUser | undefined,
): PrivateMariadb {
  const admin = mysql.createPool({ socketPath: files.socket, user: 'root', connectionLimit: 2 });
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    async query<Row extends object>(sql: string, params: unknown[] = []) {
      const [rows] = await admin.query(sql, params);
      return rows as Row[];
    },
    async createUser(name, require) {
      await admin.query(`CREATE USER ?@'%' REQUIRE ${requirement(require)}`, [name]);
    },
    async requireFor(name, require) {
      await admin.query(`ALTER USER ?@'%' REQUIRE ${requirement(require)}`, [name]);
    },
    async reloadServerCert(cert) {
      await writeOwned(files.cert, cert.chainPem, 0o644, user);
      await writeOwned(files.key, cert.keyPem, 0o600, user);
      await admin.query('FLUSH SSL');
    },
    stop() {
      stopped ??= (async () => {
        await admin.end().catch(() => {});
        await server.stop('SIGTERM');
        await dir.remove();
      })();
      return stopped;
    },
  };
}
