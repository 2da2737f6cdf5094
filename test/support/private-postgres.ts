// A private PostgreSQL for one test file: initdb into a temp directory, TLS on with a server certificate
// from the test's CA, clients on 127.0.0.1 only and only over TLS (`hostssl … cert` by default), the
// superuser only over a unix socket in the temp directory. Started and stopped by pid; under root it runs
// as the `postgres` account (initdb and postgres refuse root).
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
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
  versionDirs,
  writeOwned,
} from './private-server.ts';
import { hexFingerprint } from './reload.ts';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** `pg_config --bindir`, then /usr/lib/postgresql/<newest>/bin, then PATH; undefined when not installed. */
export function postgresBinaries(): PostgresBinaries | undefined {
  const dirs: string[] = [];
  const pgConfig = findBinary('pg_config');
  if (pgConfig) {
    try {
      dirs.push(execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8' }).trim());
    } catch {}
  }
  dirs.push(...versionDirs('/usr/lib/postgresql').map((dir) => join(dir, 'bin')));
  for (const dir of [...dirs, undefined]) {
    const initdb = findBinary('initdb', dir ? [dir] : []);
    const postgres = findBinary('postgres', dir ? [dir] : []);
    // From the same directory when one was found there, so initdb and the server are one version.
    if (initdb && postgres && (!dir || (initdb.startsWith(dir) && postgres.startsWith(dir)))) {
      return { initdb, postgres };
    }
  }
  return undefined;
}

/** A certificate and key as PEM: the server's chain (leaf first) and its key. */
export interface ServerCertificate {
  chainPem: string;
  keyPem: string;
}

export interface PrivatePostgresOptions {
  serverCert: ServerCertificate;
  /** The CA certificates that client certificates must chain to (`ssl_ca_file`). */
  clientCaPem: string;
  /** The `hostssl` method for TCP clients; default `cert` (the certificate's CN is the user name). */
  auth?: 'cert' | 'trust' | 'scram-sha-256';
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string>;
}

export interface PrivatePostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Runs SQL as the superuser (over the unix socket) and returns the rows. */
  query<Row extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** A login role (the name a client certificate's CN must carry under `cert`); a password when given. */
  createUser(name: string, password?: string): Promise<void>;
  /** Rereads the configuration (SIGHUP, e.g. after ALTER SYSTEM); resolves once new connections see it. */
  reload(): Promise<void>;
  /** Replaces the server certificate and key and reloads; resolves once new connections get them. */
  reloadServerCert(cert: ServerCertificate): Promise<void>;
  /** The fingerprint (lower-case hex) of the certificate a new TLS connection is served now. */
  servedFingerprint(): Promise<string>;
  /** The postmaster's process id (its backends are its children). */
  readonly pid: number;
  /**
   * Stops the server by pid (`SIGINT`: fast shutdown, sessions ended; `SIGQUIT`: immediate, as a crash),
   * keeping its data directory, until up().
   */
  down(signal?: 'SIGINT' | 'SIGQUIT'): Promise<void>;
  /** Starts the stopped server again on the same port and data directory; resolves once it accepts connections. */
  up(): Promise<void>;
  /** Fast shutdown by pid, then the temp directory is removed. Idempotent. */
  stop(): Promise<void>;
}

const READY = /database system is ready to accept connections/;
const RELOADED = /received SIGHUP, reloading configuration files/;
const PORT_TAKEN = /could not bind|Address already in use|could not create any TCP\/IP sockets/;

export async function startPrivatePostgres(options: PrivatePostgresOptions): Promise<PrivatePostgres> {
  const binaries = postgresBinaries();
  if (!binaries) throw new Error('PostgreSQL server binaries (initdb, postgres) not found');
  const user = serviceUser(['postgres']);
  const dir = await serverDir('tessera-pg-');
  const root = dir.path;
  try {
    const dataDir = join(root, 'data');
    const files = {
      cert: join(root, 'server.crt'),
      key: join(root, 'server.key'),
      ca: join(root, 'client-ca.crt'),
      hba: join(root, 'pg_hba.conf'),
    };
    await writeFile(files.cert, options.serverCert.chainPem);
    await writeFile(files.key, options.serverCert.keyPem, { mode: 0o600 });
    await writeFile(files.ca, options.clientCaPem);
    await writeFile(
      files.hba,
      [
        '# the superuser, over the unix socket in the temp directory only',
        'local all postgres trust',
        '# everyone else: TCP on loopback, TLS only',
        `hostssl all all 127.0.0.1/32 ${options.auth ?? 'cert'}`,
        '',
      ].join('\n'),
    );
    await chownTree(root, user);
    // No fsync, a C locale and no instructions: a throwaway cluster in well under a second.
    await runAs(user, binaries.initdb, [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '--no-instructions',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: root,
      hba_file: files.hba,
      ssl: 'on',
      ssl_cert_file: files.cert,
      ssl_key_file: files.key,
      ssl_ca_file: files.ca,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '60',
      shared_buffers: '16MB',
      ...options.settings,
    };
    const { server, port } = await startOnFreePort(user, binaries.postgres, dataDir, settings);
    const relaunch = async (): Promise<ServerProcess> => {
      const again = launch(user, binaries.postgres, serverArgs(dataDir, port, settings));
      await again.waitForLine(READY);
      return again;
    };
    return privatePostgres(server, port, dir, files, user, relaunch);
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

function serverArgs(dataDir: string, port: number, settings: Record<string, string>): string[] {
  const args = ['-D', dataDir, '-p', String(port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  return args;
}

async function startOnFreePort(
  user: ServiceUser | undefined,
  postgres: string,
  dataDir: string,
  settings: Record<string, string>,
): Promise<{ server: ServerProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = launch(user, postgres, serverArgs(dataDir, port, settings));
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

function privatePostgres(
  first: ServerProcess,
  port: number,
  dir: { path: string; remove(): Promise<void> },
  files: { cert: string; key: string },
  user: ServiceUser | undefined,
  relaunch: () => Promise<ServerProcess>,
): PrivatePostgres {
  let server = first;
  const admin = new pg.Pool({ host: dir.path, port, user: 'postgres', database: 'postgres', max: 2 });
  admin.on('error', () => {});
  let stopped: Promise<void> | undefined;
  const self: PrivatePostgres = {
    host: '127.0.0.1',
    port,
    async query<Row extends object>(sql: string, params: unknown[] = []) {
      return (await admin.query(sql, params)).rows as Row[];
    },
    async createUser(name, password) {
      const role = pg.escapeIdentifier(name);
      const secret = password === undefined ? '' : ` PASSWORD ${pg.escapeLiteral(password)}`;
      await admin.query(`CREATE ROLE ${role} LOGIN${secret}`);
    },
    async reloadServerCert(cert) {
      await writeOwned(files.cert, cert.chainPem, 0o644, user);
      await writeOwned(files.key, cert.keyPem, 0o600, user);
      await self.reload();
      const served = await self.servedFingerprint();
      const wanted = hexFingerprint(new X509Certificate(cert.chainPem).fingerprint256);
      if (served !== wanted) throw new Error(`PostgreSQL kept its old certificate:\n${server.tail()}`);
    },
    async reload() {
      const since = server.lineCount();
      process.kill(server.pid, 'SIGHUP');
      // The postmaster reloads (settings and TLS context) inside its SIGHUP handler and accepts nothing
      // meanwhile, so once this line is out, every new connection sees the new configuration.
      await server.waitForLine(RELOADED, since);
    },
    servedFingerprint: () => servedFingerprint(port),
    get pid() {
      return server.pid;
    },
    async down(signal = 'SIGINT') {
      await server.stop(signal);
    },
    async up() {
      server = await relaunch();
    },
    stop() {
      stopped ??= (async () => {
        await admin.end().catch(() => {});
        await server.stop('SIGINT');
        await dir.remove();
      })();
      return stopped;
    },
  };
  return self;
}

/** PostgreSQL's SSLRequest (length 8, code 80877103), answered 'S', then a handshake that trusts anything. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.once('error', reject);
    raw.once('connect', () => {
      raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
      raw.once('data', (answer) => {
        if (answer.toString('latin1') !== 'S') return reject(new Error('PostgreSQL refused TLS'));
        const socket = tlsConnect({ socket: raw, rejectUnauthorized: false }, () => {
          const cert = socket.getPeerX509Certificate();
          socket.destroy();
          cert ? resolve(hexFingerprint(cert.fingerprint256)) : reject(new Error('no server certificate'));
        });
        socket.once('error', reject);
      });
    });
  });
}
