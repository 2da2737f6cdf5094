// CRL fixtures: the serial of an issued certificate, a CRL written where a node reads it, and timers a test
// fires by hand after moving its clock (deadline tests never wait for real time).
import { writeFile } from 'node:fs/promises';
import type { IssuedCertificate } from '../../src/pki/certificate.ts';
import { buildCrl, type IssuedCrl } from '../../src/pki/crl.ts';
import type { Timers } from '../../src/tls/clock.ts';
import { parseCertificate, pemCertificatesToDer } from '../../src/tls/x509.ts';
import { DAY_MS, type TestCa } from './pki.ts';
import { replaceFile } from './reload.ts';

/** The certificate's serial as ParsedCertificate / PeerIdentity spell it. */
export function serialOf(cert: IssuedCertificate): string {
  return parseCertificate(pemCertificatesToDer(cert.certPem)[0] as Buffer).serial;
}

/** Writes (write-temp-then-rename) a CRL of `ca` revoking `revoked`; `stale`: nextUpdate a day ago. */
export async function writeCrl(
  path: string,
  ca: Pick<TestCa, 'certPem' | 'keyPem'>,
  revoked: readonly IssuedCertificate[] = [],
  options: { stale?: boolean; nextUpdate?: Date; der?: boolean } = {},
): Promise<IssuedCrl> {
  const now = Date.now();
  const crl = await buildCrl({
    issuer: ca,
    serials: revoked.map(serialOf),
    ...(options.stale
      ? { thisUpdate: new Date(now - 8 * DAY_MS), nextUpdate: new Date(now - DAY_MS) }
      : options.nextUpdate
        ? { thisUpdate: new Date(now - 60_000), nextUpdate: options.nextUpdate }
        : {}),
  });
  if (options.der) await writeFile(path, crl.der);
  else await replaceFile(path, crl.crlPem);
  return crl;
}

export interface ManualTimers {
  timers: Timers;
  /** Timers pending now, with their delays. */
  pending(): { ms: number }[];
  /** Runs every pending timer (the test moved its clock past their deadline first). */
  fireAll(): void;
}

export function manualTimers(): ManualTimers {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 1;
  return {
    timers: {
      setTimeout(callback, ms) {
        const id = next++;
        pending.set(id, { callback, ms });
        return id;
      },
      clearTimeout(handle) {
        pending.delete(handle as number);
      },
    },
    pending: () => [...pending.values()].map(({ ms }) => ({ ms })),
    fireAll() {
      const due = [...pending.entries()];
      pending.clear();
      for (const [, { callback }] of due) callback();
    },
  };
}
