// Helpers for the credential-reload tests: replace files the way operators and Kubernetes do (rename, the
// `..data` symlink swap), run a server whose reload triggers the test chooses, open one brand-new mTLS
// connection and report which certificate the server presented, and wait for reload events.
import { randomBytes, X509Certificate } from 'node:crypto';
import { renameSync } from 'node:fs';
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Authorizer } from '../../src/tls/authorize.ts';
import type {
  CredentialSource,
  CredentialSourceOptions,
  ReloadEvent,
} from '../../src/tls/credential-source.ts';
import type { Material, MaterialPaths } from '../../src/tls/material.ts';
import { createMtlsServer, type MtlsServer } from '../../src/transport/https-server.ts';
import type { Rejection } from '../../src/transport/rejections.ts';
import { openStaticCredentials, silentLogger, testMetrics } from './tls-peers.ts';

/** `AB:CD:…` (node:tls) → `abcd…` (ParsedCertificate.fingerprint256, /whoami `served`). */
export function hexFingerprint(colonHex: string): string {
  return colonHex.replaceAll(':', '').toLowerCase();
}

/** Fingerprint of the first certificate of a PEM (the leaf of a chain), in the same form. */
export function fingerprintOf(pem: string): string {
  return hexFingerprint(new X509Certificate(pem).fingerprint256);
}

function tempPathFor(path: string, dir = dirname(path)): string {
  return join(dir, `.${basename(path)}.tmp-${randomBytes(4).toString('hex')}`);
}

/** Write-temp-then-rename in the target's directory: readers see the old or the new file, never a mix. */
export async function replaceFile(path: string, content: string, mode = 0o644): Promise<void> {
  const temp = tempPathFor(path);
  await writeFile(temp, content, { mode });
  await rename(temp, path);
}

/**
 * Stages a replacement (the temp file is written now); `commit()` renames it into place synchronously.
 * A `stagingDir` on the same filesystem (e.g. a subdirectory) keeps the temp write from firing a watcher
 * of the target's directory, so the only event a watcher sees is the rename itself.
 */
export async function stageFile(
  path: string,
  content: string,
  mode = 0o644,
  stagingDir = dirname(path),
): Promise<{ commit(): void }> {
  const temp = tempPathFor(path, stagingDir);
  await writeFile(temp, content, { mode });
  return { commit: () => renameSync(temp, path) };
}

export interface Handshake {
  /** The request got an HTTP response (the server admitted us). */
  ok: boolean;
  status?: number | undefined;
  body?: string;
  /** Leaf fingerprint the server presented in this handshake (hex, lower case), when the handshake got that far. */
  fingerprint?: string;
  error?: string;
}

/**
 * One request on a NEW connection (agent: false, so a full handshake every time): GET `path` with the given
 * client material. Never throws: refusals come back as `ok: false` with the client's error code.
 */
export function freshRequest(
  port: number,
  material: { certPem: string; keyPem: string; caPem: string },
  path = '/whoami',
  timeoutMs = 15_000,
): Promise<Handshake> {
  return new Promise((resolve) => {
    const outcome: Handshake = { ok: false };
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path,
      method: 'GET',
      agent: false,
      cert: material.certPem,
      key: material.keyPem,
      ca: material.caPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // The tests compare the presented certificate themselves.
      checkServerIdentity: () => undefined,
      headers: { connection: 'close' },
      timeout: timeoutMs,
    });
    req.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        const cert = (socket as TLSSocket).getPeerX509Certificate();
        if (cert) outcome.fingerprint = hexFingerprint(cert.fingerprint256);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('response', (res) => {
      outcome.status = res.statusCode;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        outcome.ok = true;
        outcome.body = body;
        resolve(outcome);
      });
      res.on('error', (error: NodeJS.ErrnoException) => {
        outcome.error = error.code ?? error.message;
        resolve(outcome);
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      outcome.error ??= error.code ?? error.message;
      resolve(outcome);
    });
    req.end();
  });
}

/** `served` from GET /whoami (the server's view of its current leaf). */
export function servedOf(handshake: Handshake): string | undefined {
  if (!handshake.ok || handshake.status !== 200 || !handshake.body) return undefined;
  return (JSON.parse(handshake.body) as { served?: string }).served;
}

/** Resolves with the next 'reload' event matching the predicate (register BEFORE causing it). */
export function nextReload(
  source: CredentialSource,
  match: (event: ReloadEvent) => boolean,
  timeoutMs = 20_000,
): Promise<ReloadEvent> {
  return new Promise((resolve, reject) => {
    const seen: ReloadEvent[] = [];
    const onReload = (event: ReloadEvent) => {
      seen.push(event);
      if (!match(event)) return;
      clearTimeout(timer);
      source.off('reload', onReload);
      resolve(event);
    };
    const timer = setTimeout(() => {
      source.off('reload', onReload);
      reject(new Error(`no matching reload event within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`));
    }, timeoutMs);
    source.on('reload', onReload);
  });
}

/** Resolves with the material of the next 'change' event matching the predicate (register BEFORE causing it). */
export function nextChange(
  source: CredentialSource,
  match: (material: Material) => boolean,
  timeoutMs = 20_000,
): Promise<Material> {
  return new Promise((resolve, reject) => {
    const onChange = (material: Material) => {
      if (!match(material)) return;
      clearTimeout(timer);
      source.off('change', onChange);
      resolve(material);
    };
    const timer = setTimeout(() => {
      source.off('change', onChange);
      reject(new Error(`no matching material change within ${timeoutMs} ms`));
    }, timeoutMs);
    source.on('change', onChange);
  });
}

/** Polls `condition` every `intervalMs` until it returns a truthy value or the deadline passes. */
export async function until<T>(
  what: string,
  condition: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 25 } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ReloadingServer {
  app: MtlsServer;
  credentials: CredentialSource;
  port: number;
  /** Every peer the server refused, in order (reason as recorded by the PeerGate). */
  rejections: Rejection[];
  /** Where the server and its credentials count. */
  registry: Registry;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * An in-process mTLS server (GET /whoami → `served` fingerprint) over a CredentialSource opened with the
 * given reload options. Unlike startTestServer, the caller chooses watch, poll, SIGHUP, debounce and clock.
 */
export async function startReloadingServer(
  paths: MaterialPaths,
  authorize: Authorizer,
  options: Omit<CredentialSourceOptions, keyof MaterialPaths> = {},
): Promise<ReloadingServer> {
  const { registry, metrics } = testMetrics();
  const credentials = await openStaticCredentials(paths, { metrics, ...options });
  const app = createMtlsServer({ credentials, authorize, logger: silentLogger, metrics });
  const rejections: Rejection[] = [];
  app.peerGate.on('rejected', (rejection) => rejections.push(rejection));
  app.get('/whoami', async (request) => ({
    uris: request.peer?.uris ?? null,
    served: credentials.material.leaf.fingerprint256,
  }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  let closed: Promise<void> | undefined;
  return {
    app,
    registry,
    credentials,
    port: (app.server.address() as AddressInfo).port,
    rejections,
    close() {
      credentials.close();
      closed ??= app.close();
      return closed;
    },
  };
}

/** File names inside a Kubernetes secret volume, and their contents. */
export type VolumeFiles = Record<string, string>;

/**
 * Lays out `dir` the way the kubelet's atomic writer does: a timestamped directory `..<ts>` holding the
 * files, `..data` → `..<ts>`, and one user-visible symlink per file `name` → `..data/name`.
 */
export async function writeKubernetesVolume(dir: string, files: VolumeFiles): Promise<void> {
  const stamp = await writeTimestampedDir(dir, files);
  await symlink(stamp, join(dir, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name));
}

/**
 * The kubelet's update: a new timestamped directory, a `..data_tmp` symlink to it renamed over `..data`
 * (the one atomic step), then the old directory removed. The user-visible symlinks never change.
 */
export async function swapKubernetesVolume(dir: string, files: VolumeFiles): Promise<void> {
  const previous = await readlink(join(dir, '..data'));
  const stamp = await writeTimestampedDir(dir, files);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, previous), { recursive: true, force: true });
}

let volumeSerial = 0;

async function writeTimestampedDir(dir: string, files: VolumeFiles): Promise<string> {
  const now = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '');
  const stamp = `..${now}.${String(++volumeSerial).padStart(9, '0')}`;
  await mkdir(join(dir, stamp));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, stamp, name), content);
  return stamp;
}
