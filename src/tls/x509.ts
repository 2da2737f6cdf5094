// One place that sets up @peculiar/x509 (reflect-metadata first, Node's WebCrypto as provider) and turns
// a DER certificate into typed fields. Identity decisions are made on these typed SANs, never on
// Node's comma-joined `subjectaltname` string (CVE-2021-44532 class).
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// `Crypto` is a DOM type (absent from this lib set); name it through the provider so this compiles without DOM.
x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface ParsedCertificate {
  der: Buffer;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  uris: string[];
  dnsNames: string[];
  ips: string[];
  emails: string[];
  isCa: boolean;
  /** Extended key usage OIDs; null when the extension is absent. */
  extendedKeyUsages: string[] | null;
  selfIssued: boolean;
  /** Lower-case hex SHA-256 of the DER certificate. */
  fingerprint256: string;
  /** Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (the value to pin). */
  spkiSha256: string;
  publicKeyAlgorithm: string;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const cert = new x509.X509Certificate(toArrayBuffer(der));
  const uris: string[] = [];
  const dnsNames: string[] = [];
  const ips: string[] = [];
  const emails: string[] = [];
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === 'url') uris.push(name.value);
    else if (name.type === 'dns') dnsNames.push(name.value);
    else if (name.type === 'ip') ips.push(name.value);
    else if (name.type === 'email') emails.push(name.value);
  }
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const buffer = Buffer.from(der);
  return {
    der: buffer,
    subject: cert.subject,
    issuer: cert.issuer,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    uris,
    dnsNames,
    ips,
    emails,
    isCa: basic?.ca ?? false,
    extendedKeyUsages: eku ? Array.from(eku.usages, String) : null,
    selfIssued: cert.subject === cert.issuer,
    fingerprint256: sha256Hex(buffer),
    spkiSha256: sha256Hex(new Uint8Array(cert.publicKey.rawData)),
    publicKeyAlgorithm: String(cert.publicKey.algorithm.name),
  };
}

/** Splits PEM text into the DER bodies of its CERTIFICATE blocks, in order. */
export function pemCertificatesToDer(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) =>
    Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64'),
  );
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  return x509.PemConverter.encode(toArrayBuffer(der), label) + '\n';
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}
