/**
 * `tessera/pki`: a small private PKI for mutual TLS: a CA, leaf certificates with URI SANs and
 * serverAuth+clientAuth, a dev PKI for a set of nodes, inspection of certificates and bundles, and atomic
 * writing of key/certificate files. Used by the CLI, the demo and the tests; builds only on src/tls.
 */
export { type FileToWrite, writeFilesAtomically } from './atomic-write.ts';
export {
  buildCa,
  CA_CERT_FILE,
  CA_KEY_FILE,
  DEFAULT_CA_DAYS,
  DEFAULT_CA_NAME,
  type InitCaOptions,
  initCa,
  type LoadedCa,
  loadCa,
} from './ca.ts';
export { buildCertificate, type CertificateSpec, type IssuedCertificate } from './certificate.ts';
export {
  buildCrl,
  type CrlSpec,
  DEFAULT_CRL_NEXT_UPDATE_MS,
  type IssueCrlOptions,
  type IssuedCrl,
  type IssuedCrlFile,
  issueCrl,
} from './crl.ts';
export {
  createDevPki,
  DEFAULT_TRUST_DOMAIN,
  type DevPkiOptions,
  type DevPkiResult,
  devNodeUri,
} from './dev.ts';
export { PkiError, type PkiErrorCode } from './errors.ts';
export { type CertificateInfo, formatInspection, inspectCertificates } from './inspect.ts';
export {
  buildLeaf,
  DEFAULT_LEAF_DAYS,
  type IssuedLeaf,
  type IssueLeafOptions,
  issueLeaf,
  type LeafSpec,
} from './issue.ts';
export {
  type CryptoKey,
  type CryptoKeyPair,
  DEFAULT_KEY_ALGO,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  KEY_ALGOS,
  type KeyAlgo,
} from './keys.ts';
export { MAX_DAYS } from './validate.ts';
