// A low-level, deliberately NON-validating certificate builder. The CLI verbs (ca.ts, issue.ts, dev.ts)
// validate their input and then call this; tests call it directly to craft bad certificates on purpose
// (expired, wrong EKU, CA leaves, hostile SAN strings), so it writes whatever it is given.
import { randomBytes, type webcrypto } from 'node:crypto';
import { derToPem, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, pemCertificatesToDer, x509 } from '../tls/x509.ts';
import {
  type CryptoKey,
  type CryptoKeyPair,
  DEFAULT_KEY_ALGO,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  type KeyAlgo,
  keyAlgoOf,
} from './keys.ts';

export interface CertificateSpec {
  subjectCN: string;
  /** Absent → self-signed. `certPem` may hold the issuer's whole chain; its first certificate is the issuer. */
  issuer?: { certPem: string; keyPem: string };
  /** Algorithm of the new key (default Ed25519); ignored when `keyPair` is given. */
  algo?: KeyAlgo;
  /** Reuse an existing key pair instead of generating one (e.g. key-mismatch or renewal tests). */
  keyPair?: CryptoKeyPair;
  /** basicConstraints CA:TRUE (critical) + keyUsage keyCertSign, cRLSign. Default false. */
  isCa?: boolean;
  pathLength?: number;
  /** SAN entries, written exactly as given (no validation). */
  uris?: string[];
  dnsNames?: string[];
  ips?: string[];
  /** Default: both for leaves, none for CAs. null or [] → no EKU extension at all. */
  extendedKeyUsages?: ('serverAuth' | 'clientAuth')[] | null;
  /** Default: now - 5 minutes, so a peer whose clock is slightly behind accepts a fresh certificate. */
  notBefore?: Date;
  /** Default: notBefore + 90 days (CA: 3650 days). */
  notAfter?: Date;
  /** Hex serial; default 16 random bytes, positive. */
  serial?: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** The new certificate followed by the issuer's certPem (just the certificate when self-signed). */
  chainPem: string;
  keyPair: CryptoKeyPair;
}

const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;
const EKU_OIDS = { serverAuth: EKU_SERVER_AUTH, clientAuth: EKU_CLIENT_AUTH } as const;

export async function buildCertificate(spec: CertificateSpec): Promise<IssuedCertificate> {
  const isCa = spec.isCa ?? false;
  const keyPair = spec.keyPair ?? (await generateKeyPair(spec.algo ?? DEFAULT_KEY_ALGO));
  const issuer = spec.issuer ? await loadIssuer(spec.issuer) : undefined;
  const signingKey = issuer?.privateKey ?? keyPair.privateKey;
  const issuerPublicKey = issuer?.publicKey ?? keyPair.publicKey;

  const notBefore = spec.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + (isCa ? 3650 : 90) * DAY_MS);

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, spec.pathLength, true),
    new x509.KeyUsagesExtension(
      isCa
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
  ];
  const ekus =
    spec.extendedKeyUsages === undefined
      ? isCa
        ? null
        : (['serverAuth', 'clientAuth'] as const)
      : spec.extendedKeyUsages;
  if (ekus && ekus.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension(ekus.map((eku) => EKU_OIDS[eku])));
  }
  const names: x509.JsonGeneralName[] = [
    ...(spec.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  // RFC 5280: the SAN extension must not be empty, so omit it when there are no names.
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey));
  // The AKI must equal the issuer's SKI for chain building; copy it when the issuer has one.
  const issuerSki = issuer?.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  extensions.push(
    issuerSki
      ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)
      : await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey),
  );

  const subject: x509.JsonName = [{ CN: [spec.subjectCN] }];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial ?? randomSerial(),
    // The issuer's encoded subject is reused as-is so issuer/subject names match byte for byte.
    subject,
    issuer: issuer ? issuer.cert.subjectName : subject,
    notBefore,
    notAfter,
    publicKey: keyPair.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithmFor(signingKey),
    extensions,
  });

  const certPem = derToPem(new Uint8Array(cert.rawData));
  const chainPem = issuer ? certPem + withTrailingNewline(spec.issuer!.certPem) : certPem;
  return { certPem, keyPem: await exportPrivateKeyPem(keyPair.privateKey), chainPem, keyPair };
}

async function loadIssuer(issuer: { certPem: string; keyPem: string }) {
  const der = pemCertificatesToDer(issuer.certPem)[0];
  if (!der) throw new Error('issuer.certPem contains no CERTIFICATE block');
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const { privateKey, publicKey } = await importPrivateKeyPem(issuer.keyPem);
  return { cert, privateKey, publicKey };
}

/** The signer's key decides the signature algorithm: Ed25519 is pure EdDSA, P-256 is ECDSA with SHA-256. */
function signingAlgorithmFor(key: CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return keyAlgoOf(key) === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
}

/** 16 random bytes with the top bit cleared (DER INTEGERs are signed) and the next set (fixed length). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function withTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
