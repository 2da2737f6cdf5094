// Issues a certificate revocation list (RFC 5280 section 5) signed by a CA: the serials it revokes, when
// it was made (thisUpdate) and when the next one is due (nextUpdate; past it, peers of this CA are refused
// unless the stale policy says warn). Used by `tessera pki crl` and by tests; no validation beyond what
// signing needs, like buildCertificate.
import { derToPem, pemCertificatesToDer, x509 } from '../tls/x509.ts';
import { importPrivateKeyPem, keyAlgoOf } from './keys.ts';

export interface CrlSpec {
  /** The CA certificate (first PEM block) and its private key: the CRL's issuer and signer. */
  issuer: { certPem: string; keyPem: string };
  /** Hex serials of the revoked certificates (any case, optional colons). */
  serials: readonly string[];
  /** Default now. */
  thisUpdate?: Date;
  /** When the next CRL is due; default thisUpdate + 7 days. */
  nextUpdate?: Date;
  /** Revocation time written for every entry; default thisUpdate. */
  revocationDate?: Date;
}

export interface IssuedCrl {
  /** PEM, one X509 CRL block. */
  crlPem: string;
  der: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
}

const DAY_MS = 86_400_000;

export async function buildCrl(spec: CrlSpec): Promise<IssuedCrl> {
  const der = pemCertificatesToDer(spec.issuer.certPem)[0];
  if (!der) throw new Error('issuer.certPem contains no CERTIFICATE block');
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const { privateKey } = await importPrivateKeyPem(spec.issuer.keyPem);
  const thisUpdate = spec.thisUpdate ?? new Date();
  const nextUpdate = spec.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * DAY_MS);
  const crl = await x509.X509CrlGenerator.create({
    // The issuer's encoded subject as-is, so the CRL's issuer matches the CA's subject byte for byte.
    issuer: cert.subjectName,
    thisUpdate,
    nextUpdate,
    entries: spec.serials.map((serial) => ({
      serialNumber: normaliseSerial(serial),
      revocationDate: spec.revocationDate ?? thisUpdate,
    })),
    signingKey: privateKey,
    signingAlgorithm:
      keyAlgoOf(privateKey) === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' },
  });
  const raw = Buffer.from(crl.rawData);
  return { crlPem: derToPem(raw, 'X509 CRL'), der: raw, thisUpdate, nextUpdate };
}

/** Lower-case hex without colons; a leading zero byte (DER sign padding) is kept as given. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error(`not a hex serial: ${serial}`);
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}
