// Key pairs for Tessera certificates: Ed25519 or ECDSA P-256, as WebCrypto keys (what @peculiar/x509
// signs with) and as PKCS#8 PEM on disk (what Node's TLS reads).
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { PkiError } from './errors.ts';

export type KeyAlgo = 'ed25519' | 'p256';

// Node's WebCrypto types, named here because this project compiles without the DOM lib.
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const KEY_ALGOS: readonly KeyAlgo[] = ['ed25519', 'p256'];

/** Ed25519, as the seeds' openssl recipes make: small keys, fast handshakes. P-256 on request (browsers
 * cannot verify Ed25519 certificates, so an API listener a browser talks to directly wants P-256). */
export const DEFAULT_KEY_ALGO: KeyAlgo = 'ed25519';

const subtle = webcrypto.subtle;

function importParams(algo: KeyAlgo): webcrypto.EcKeyImportParams | webcrypto.Algorithm {
  return algo === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
}

export async function generateKeyPair(algo: KeyAlgo): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(importParams(algo), true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/** Which of our algorithms a WebCrypto key uses (the issuer's key decides the signature algorithm). */
export function keyAlgoOf(key: CryptoKey): KeyAlgo {
  if (key.algorithm.name === 'Ed25519') return 'ed25519';
  const curve = (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
  if (key.algorithm.name === 'ECDSA' && curve === 'P-256') return 'p256';
  throw new PkiError('PKI_KEY_INVALID', `unsupported key algorithm ${key.algorithm.name}`);
}

/**
 * Reads a PEM private key (PKCS#8, or the SEC1 "EC PRIVATE KEY" form OpenSSL writes) and returns WebCrypto
 * keys for it. Node's KeyObject detects the algorithm; WebCrypto alone would need it told in advance.
 */
export async function importPrivateKeyPem(
  pem: string,
): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; algo: KeyAlgo }> {
  let keyObject: ReturnType<typeof createPrivateKey>;
  try {
    keyObject = createPrivateKey(pem);
  } catch {
    throw new PkiError('PKI_KEY_INVALID', 'not a readable PEM private key');
  }
  let algo: KeyAlgo;
  if (keyObject.asymmetricKeyType === 'ed25519') algo = 'ed25519';
  else if (
    keyObject.asymmetricKeyType === 'ec' &&
    keyObject.asymmetricKeyDetails?.namedCurve === 'prime256v1'
  ) {
    algo = 'p256';
  } else {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const kind = `${keyObject.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}`;
    throw new PkiError('PKI_KEY_INVALID', `unsupported private key type ${kind}; use ed25519 or p256`);
  }
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const params = importParams(algo);
  const privateKey = await subtle.importKey('pkcs8', pkcs8, params, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, params, true, ['verify']);
  return { privateKey, publicKey, algo };
}
