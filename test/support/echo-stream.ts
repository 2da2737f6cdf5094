// A long-lived mTLS connection streaming both ways: a POST /echo (as `tessera tls serve` offers) whose
// chunked request body is written over time while the echoed response is read concurrently. Both
// directions are hashed, so a test can prove not one byte was lost or altered across credential reloads.
import { createHash, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { hexFingerprint } from './reload.ts';

export interface EchoResult {
  status?: number;
  sentBytes: number;
  receivedBytes: number;
  sentSha256: string;
  receivedSha256: string;
  /** The client's error (code or message), if the stream failed. */
  error?: string;
}

export interface EchoStream {
  /** Leaf fingerprint the server presented when this connection was set up (hex, lower case). */
  fingerprint: Promise<string>;
  sent(): number;
  received(): number;
  /** Stops writing, ends the request body and resolves once the whole echo came back (never rejects). */
  finish(): Promise<EchoResult>;
}

export interface EchoStreamOptions {
  chunkBytes?: number;
  intervalMs?: number;
  timeoutMs?: number;
}

export function startEchoStream(
  port: number,
  material: { certPem: string; keyPem: string; caPem: string },
  { chunkBytes = 2048, intervalMs = 20, timeoutMs = 60_000 }: EchoStreamOptions = {},
): EchoStream {
  const sentHash = createHash('sha256');
  const receivedHash = createHash('sha256');
  let sent = 0;
  let received = 0;
  let status: number | undefined;
  let error: string | undefined;
  const req = httpsRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/echo',
    agent: false,
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
    headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    timeout: timeoutMs,
  });
  const fingerprint = new Promise<string>((resolve, reject) => {
    req.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        const cert = (socket as TLSSocket).getPeerX509Certificate();
        cert ? resolve(hexFingerprint(cert.fingerprint256)) : reject(new Error('no server certificate'));
      });
    });
    req.once('error', reject);
  });
  // Observed by whoever awaits it; a failure is also reported through finish().
  fingerprint.catch(() => {});
  const result = (): EchoResult => ({
    ...(status === undefined ? {} : { status }),
    sentBytes: sent,
    receivedBytes: received,
    sentSha256: sentHash.copy().digest('hex'),
    receivedSha256: receivedHash.copy().digest('hex'),
    ...(error === undefined ? {} : { error }),
  });
  const done = new Promise<EchoResult>((resolve) => {
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
      resolve(result());
    });
    req.on('response', (res) => {
      status = res.statusCode;
      res.on('data', (chunk: Buffer) => {
        receivedHash.update(chunk);
        received += chunk.length;
      });
      res.on('end', () => resolve(result()));
      res.on('error', (e: NodeJS.ErrnoException) => {
        error ??= e.code ?? e.message;
        resolve(result());
      });
    });
  });
  const timer = setInterval(() => {
    if (error !== undefined) return;
    const chunk = randomBytes(chunkBytes);
    sentHash.update(chunk);
    sent += chunk.length;
    req.write(chunk);
  }, intervalMs);
  return {
    fingerprint,
    sent: () => sent,
    received: () => received,
    finish() {
      clearInterval(timer);
      req.end();
      return done;
    },
  };
}
