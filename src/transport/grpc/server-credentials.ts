// Server credentials for grpc-js's own listener (`server.bindAsync`), fed by a certificate provider.
// grpc-js's createCertificateProviderServerCredentials hands `setSecureContext` only {ca, cert, key}, and
// Node's setSecureContext resets minVersion, maxVersion and ciphers it is not given: after the first
// update such a listener accepts TLS 1.2. These credentials add the TLS 1.3 policy to every update.
// Limits of grpc-js's listener (see docs/wires/grpc.md): failed handshakes are neither exposed nor counted
// and there is no connection-level authorizer; prefer createMtlsGrpcServer, which owns the listener.

import type { SecureContextOptions } from 'node:tls';
import { type experimental, ServerCredentials } from '@grpc/grpc-js';
import { TLS_CIPHERS, TLS_VERSION } from '../../tls/policy.ts';

const POLICY = { minVersion: TLS_VERSION, maxVersion: TLS_VERSION, ciphers: TLS_CIPHERS } as const;

/**
 * grpc-js ServerCredentials with the TLS 1.3 policy and a required, verified client certificate, whose CA
 * bundle and identity follow `provider` (e.g. a CredentialSourceCertificateProvider): the listener's secure
 * context is swapped in place on each update. Per-call identity checks still need grpcCallAuthorizer.
 */
export function createPolicyServerCredentials(provider: experimental.CertificateProvider): ServerCredentials {
  return new PolicyServerCredentials(provider);
}

class PolicyServerCredentials extends ServerCredentials {
  readonly #provider: experimental.CertificateProvider;
  #ca: Buffer | null = null;
  #identity: experimental.IdentityCertificateUpdate | null = null;
  readonly #onCa = (update: experimental.CaCertificateUpdate | null) => {
    this.#ca = update?.caCertificate ?? null;
    this.#publish();
  };
  readonly #onIdentity = (update: experimental.IdentityCertificateUpdate | null) => {
    this.#identity = update;
    this.#publish();
  };

  constructor(provider: experimental.CertificateProvider) {
    super({ ...POLICY, requestCert: true, rejectUnauthorized: true });
    this.#provider = provider;
  }

  override _addWatcher(watcher: (options: SecureContextOptions | null) => void): void {
    if (this.getWatcherCount() === 0) {
      this.#provider.addCaCertificateListener(this.#onCa);
      this.#provider.addIdentityCertificateListener(this.#onIdentity);
    }
    super._addWatcher(watcher);
  }

  override _removeWatcher(watcher: (options: SecureContextOptions | null) => void): void {
    super._removeWatcher(watcher);
    if (this.getWatcherCount() === 0) {
      this.#provider.removeCaCertificateListener(this.#onCa);
      this.#provider.removeIdentityCertificateListener(this.#onIdentity);
    }
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  #publish(): void {
    // Until both halves arrived grpc-js refuses connections (null = "credentials not loaded").
    if (!this.#ca || !this.#identity) {
      this.updateSecureContextOptions(null);
      return;
    }
    this.updateSecureContextOptions({
      ...POLICY,
      ca: this.#ca,
      cert: this.#identity.certificate,
      key: this.#identity.privateKey,
    });
  }
}
