// What the pg and mysql2 adapters share: the options that say what a database connection trusts and
// presents, and the TLS values derived from the credential source's current material. Both are read at
// every new connection and rebuilt only when the material object changes (a reload), so a rotation needs
// no subscription here and reaches the next connection.
import { type ConnectionOptions, createSecureContext, type SecureContext } from 'node:tls';
import type { CredentialFeed } from '../tls/follow.ts';
import type { Material } from '../tls/material.ts';
import { type DatabaseTlsPolicy, databaseClientTlsOptions } from '../tls/policy.ts';

/** What both database adapters take: the credentials, the TLS floor and whether system CAs count. */
export interface DatabaseTlsOptions extends DatabaseTlsPolicy {
  /**
   * Our client certificate and key, and the CA bundle the server's certificate must chain to: usually a
   * `CredentialSource`. Its current material is read when each new connection starts.
   */
  credentials: Pick<CredentialFeed, 'material'>;
}

/** The TLS values of one material version. */
export interface DerivedTls {
  readonly material: Material;
  readonly options: ConnectionOptions;
  /** Built on first use: only pg needs a context (mysql2 builds and caches its own from the PEM strings). */
  readonly secureContext: SecureContext;
}

/** A getter of the current material's TLS values; the same object is returned until the material changes. */
export function currentTls(options: DatabaseTlsOptions): () => DerivedTls {
  const policy: DatabaseTlsPolicy = {
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.systemCa ? { systemCa: true } : {}),
  };
  let derived: DerivedTls | undefined;
  return () => {
    const material = options.credentials.material;
    if (derived?.material !== material) derived = derive(material, policy);
    return derived;
  };
}

function derive(material: Material, policy: DatabaseTlsPolicy): DerivedTls {
  const connection = databaseClientTlsOptions(material, policy);
  let context: SecureContext | undefined;
  return {
    material,
    options: connection,
    get secureContext() {
      context ??= createSecureContext(connection);
      return context;
    },
  };
}

const presented = new WeakMap<object, string>();

/** Lower-case hex SHA-256 of the certificate a TLS socket presented as ours; undefined when not TLS. */
export function presentedFingerprint(socket: unknown): string | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  const cached = presented.get(socket);
  if (cached) return cached;
  const local = (socket as { getX509Certificate?: () => { fingerprint256: string } | undefined })
    .getX509Certificate;
  const fingerprint = typeof local === 'function' ? local.call(socket)?.fingerprint256 : undefined;
  if (!fingerprint) return undefined;
  const hex = fingerprint.replaceAll(':', '').toLowerCase();
  presented.set(socket, hex);
  return hex;
}
