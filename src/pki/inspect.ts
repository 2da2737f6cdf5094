// Read-only description of certificates (a single one, or a chain/bundle file) for `tessera pki inspect`
// and for operators' scripts (--json). Names come from the typed SAN entries, as everywhere in Tessera.
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import {
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  parseCertificate,
  pemCertificatesToDer,
  x509,
} from '../tls/x509.ts';
import { PkiError } from './errors.ts';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Lower-case hex, without the DER sign byte. */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Days until notAfter, rounded down to one decimal; negative once expired. */
  daysLeft: number;
  /** Validity at the time of inspection (`now`). */
  status: 'valid' | 'expired' | 'not-yet-valid';
  isCa: boolean;
  sans: { uris: string[]; dnsNames: string[]; ips: string[]; emails: string[] };
  /** 'serverAuth' / 'clientAuth', or the dotted OID for other usages; null when the extension is absent. */
  extendedKeyUsages: string[] | null;
  /** Lower-case hex SHA-256 of the DER certificate (what `openssl x509 -fingerprint -sha256` shows). */
  fingerprintSha256: string;
  /** Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (the value to pin). */
  spkiSha256: string;
  /** 'Ed25519' or 'ECDSA P-256' (curve included for EC keys). */
  publicKeyAlgorithm: string;
  /** Issued by its own key: subject equals issuer and its signature verifies with its own public key. */
  selfSigned: boolean;
}

const DAY_MS = 86_400_000;
const EKU_NAMES: Record<string, string> = {
  [EKU_SERVER_AUTH]: 'serverAuth',
  [EKU_CLIENT_AUTH]: 'clientAuth',
};

export function inspectCertificates(input: string | Buffer, now = new Date()): CertificateInfo[] {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const pemLabels = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (pemLabels.length > 0 && !pemLabels.includes('CERTIFICATE')) {
    const found = [...new Set(pemLabels)].join(', ');
    throw new PkiError('PKI_NOT_A_CERTIFICATE', `no PEM CERTIFICATE block (found ${found})`);
  }
  // PEM text, else (bytes only) a single DER certificate.
  const ders = pemLabels.length > 0 ? pemCertificatesToDer(text) : typeof input === 'string' ? [] : [input];
  if (ders.length === 0) {
    throw new PkiError(
      'PKI_NOT_A_CERTIFICATE',
      'no certificate found (expected PEM CERTIFICATE blocks or DER)',
    );
  }
  return ders.map((der, i) => {
    try {
      return describe(der, now);
    } catch {
      const which = ders.length > 1 ? `certificate ${i + 1} of ${ders.length}` : 'the input';
      throw new PkiError('PKI_NOT_A_CERTIFICATE', `${which} is not a valid X.509 certificate`);
    }
  });
}

function describe(der: Buffer, now: Date): CertificateInfo {
  const parsed = parseCertificate(der);
  return {
    subject: parsed.subject,
    issuer: parsed.issuer,
    serial: parsed.serial,
    notBefore: parsed.notBefore.toISOString(),
    notAfter: parsed.notAfter.toISOString(),
    daysLeft: Math.floor(((parsed.notAfter.getTime() - now.getTime()) / DAY_MS) * 10) / 10,
    status: now < parsed.notBefore ? 'not-yet-valid' : now > parsed.notAfter ? 'expired' : 'valid',
    isCa: parsed.isCa,
    sans: { uris: parsed.uris, dnsNames: parsed.dnsNames, ips: parsed.ips, emails: parsed.emails },
    extendedKeyUsages: parsed.extendedKeyUsages?.map((oid) => EKU_NAMES[oid] ?? oid) ?? null,
    fingerprintSha256: parsed.fingerprint256,
    spkiSha256: parsed.spkiSha256,
    publicKeyAlgorithm: keyAlgorithm(der),
    selfSigned: isSelfSigned(der),
  };
}

function isSelfSigned(der: Buffer): boolean {
  const cert = new NodeX509Certificate(der);
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false; // a key type OpenSSL cannot verify with is not one we would have signed with
  }
}

function keyAlgorithm(der: Buffer): string {
  const algorithm = new x509.X509Certificate(new Uint8Array(der)).publicKey.algorithm as {
    name: string;
    namedCurve?: string;
  };
  return algorithm.namedCurve ? `${algorithm.name} ${algorithm.namedCurve}` : algorithm.name;
}

export function formatInspection(infos: CertificateInfo[]): string {
  return infos
    .map((info, i) =>
      formatOne(info, infos.length > 1 ? `Certificate ${i + 1} of ${infos.length}` : 'Certificate'),
    )
    .join('\n');
}

function formatOne(info: CertificateInfo, header: string): string {
  const validity =
    info.status === 'expired'
      ? `EXPIRED ${-info.daysLeft} days ago`
      : `${info.daysLeft} days left${info.status === 'not-yet-valid' ? ', NOT YET VALID' : ''}`;
  const lines: [string, string][] = [
    ['Subject', info.subject],
    ['Issuer', info.issuer + (info.selfSigned ? ' (self-signed)' : '')],
    ['Serial', info.serial],
    ['Not before', info.notBefore],
    ['Not after', `${info.notAfter} (${validity})`],
    ['CA', info.isCa ? 'yes' : 'no'],
    ['Key', info.publicKeyAlgorithm],
    ['URI SANs', list(info.sans.uris)],
    ['DNS SANs', list(info.sans.dnsNames)],
    ['IP SANs', list(info.sans.ips)],
  ];
  if (info.sans.emails.length > 0) lines.push(['Email SANs', list(info.sans.emails)]);
  lines.push(
    ['Extended key usage', info.extendedKeyUsages === null ? '(none)' : info.extendedKeyUsages.join(', ')],
    ['SHA-256 fingerprint', info.fingerprintSha256],
    ['SPKI SHA-256', info.spkiSha256],
  );
  const width = Math.max(...lines.map(([label]) => label.length)) + 1;
  return `${header}\n${lines.map(([label, value]) => `  ${`${label}:`.padEnd(width)} ${value}`).join('\n')}\n`;
}

function list(values: string[]): string {
  // JSON quoting keeps a hostile value (e.g. one containing ", URI:") visibly a single entry.
  return values.length === 0 ? '(none)' : values.map((v) => JSON.stringify(v)).join(', ');
}
