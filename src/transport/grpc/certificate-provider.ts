// grpc-js's certificate-provider API fed by a CredentialSource: every validated reload is pushed to the
// listeners as the new CA bundle and identity (cert chain + key), so credentials built on it reload
// without rebuilding servers or channels. Updates are delivered asynchronously, as grpc-js's own
// FileWatcherCertificateProvider does: its server credentials register their watcher only after adding
// provider listeners, so a synchronous first update would be lost and the listener would stay unusable.
import type { experimental } from '@grpc/grpc-js';
import type { CredentialFeed } from '../../tls/follow.ts';
import type { Material } from '../../tls/material.ts';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** A grpc-js `CertificateProvider` that follows a CredentialSource (or any CredentialFeed). */
export class CredentialSourceCertificateProvider implements experimental.CertificateProvider {
  readonly #source: CredentialFeed;
  readonly #ca = new Set<CaListener>();
  readonly #identity = new Set<IdentityListener>();
  readonly #onChange = (material: Material) => {
    for (const listener of this.#ca) listener(caUpdate(material));
    for (const listener of this.#identity) listener(identityUpdate(material));
  };
  #following = false;

  constructor(source: CredentialFeed) {
    this.#source = source;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#ca.add(listener);
    this.#follow();
    queueMicrotask(() => {
      if (this.#ca.has(listener)) listener(caUpdate(this.#source.material));
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#ca.delete(listener);
    this.#unfollowIfIdle();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.add(listener);
    this.#follow();
    queueMicrotask(() => {
      if (this.#identity.has(listener)) listener(identityUpdate(this.#source.material));
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.delete(listener);
    this.#unfollowIfIdle();
  }

  #follow(): void {
    if (this.#following) return;
    this.#following = true;
    this.#source.on('change', this.#onChange);
  }

  #unfollowIfIdle(): void {
    if (!this.#following || this.#ca.size > 0 || this.#identity.size > 0) return;
    this.#following = false;
    this.#source.off('change', this.#onChange);
  }
}

function caUpdate(material: Material): experimental.CaCertificateUpdate {
  return { caCertificate: Buffer.from(material.caPem) };
}

function identityUpdate(material: Material): experimental.IdentityCertificateUpdate {
  return { certificate: Buffer.from(material.certPem), privateKey: Buffer.from(material.keyPem) };
}
