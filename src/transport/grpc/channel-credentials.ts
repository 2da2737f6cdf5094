// The gRPC client adapter: channel credentials whose every new connection presents the current credentials
// (rotated ones are used as soon as the source loads them) under the TLS 1.3 policy, and checks the
// server's identity with the core's authorizers in checkServerIdentity, i.e. after the handshake and
// before grpc-js writes the HTTP/2 preface or any call byte. Refusals and failed handshakes are logged and
// counted with their reason; the reason also reaches the failed call's details.
// grpc-js's own createCertificateProviderChannelCredentials builds its context without minVersion or the
// policy's suites, so this implements the same SecureConnector contract with the policy's context.
// Servers are also checked against their CRLs, and open connections stay under watch (live-connections.ts):
// a reload that revokes the server or drops its CA, or its notAfter, closes them.
import type { Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { CallCredentials, ChannelCredentials, type ChannelOptions, experimental } from '@grpc/grpc-js';
import { type Authorizer, allOf, declaredIdentity, peerCertificateRules } from '../../tls/authorize.ts';
import { type Clock, systemClock, type Timers } from '../../tls/clock.ts';
import type { CredentialSource } from '../../tls/credential-source.ts';
import { PeerRejectedError } from '../../tls/errors.ts';
import type { ExpiryMonitor } from '../../tls/expiry.ts';
import { followCredentials } from '../../tls/follow.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../../tls/identity.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { clientTlsOptions } from '../../tls/policy.ts';
import { LiveConnections } from '../live-connections.ts';
import { serverRefusal } from '../peer-trust.ts';
import { classifyClientHandshakeError, type Rejection, recordRejection } from '../rejections.ts';

export interface MtlsChannelCredentialsOptions {
  credentials: CredentialSource;
  /**
   * The entity URI the server must prove (its URI SAN), or a lookup by authority ('host:port' as dialled).
   * Used by the default authorizer `declaredIdentity()`.
   */
  expectedUri?: string | ((authority: string) => string | undefined);
  /** Replaces the default `declaredIdentity()` check; the certificate rules always apply. */
  authorize?: Authorizer;
  clock?: Clock;
  /** Timers for the open connections' deadlines (server notAfter, CRL nextUpdate); default Node's. */
  timers?: Timers;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  onRejected?: (rejection: Rejection) => void;
}

/** grpc-js ChannelCredentials plus `close()`, which stops following the credential source (and watching connections). */
export interface MtlsChannelCredentials extends ChannelCredentials {
  close(): void;
}

export function createMtlsChannelCredentials(options: MtlsChannelCredentialsOptions): MtlsChannelCredentials {
  return new TesseraChannelCredentials(options);
}

class TesseraChannelCredentials extends ChannelCredentials implements MtlsChannelCredentials {
  #context!: SecureContext;
  readonly #stop: () => void;
  readonly #options: MtlsChannelCredentialsOptions;
  readonly #authorize: Authorizer;
  readonly #logger: Logger;
  readonly #metrics: TlsMetrics;
  readonly #sample = createLogSampler();
  readonly #live: LiveConnections<TLSSocket>;
  readonly #connections = new WeakMap<TLSSocket, { authority: string; identity: PeerIdentity }>();

  constructor(options: MtlsChannelCredentialsOptions) {
    super();
    this.#options = options;
    this.#authorize = allOf(peerCertificateRules, options.authorize ?? declaredIdentity());
    this.#logger = options.logger ?? defaultLogger();
    this.#metrics = options.metrics ?? createTlsMetrics();
    this.#stop = followCredentials(
      options.credentials,
      (material) => {
        this.#context = createSecureContext(clientTlsOptions(material));
      },
      { initial: true },
    );
    this.#live = new LiveConnections<TLSSocket>({
      check: (socket) => {
        const entry = this.#connections.get(socket);
        if (!entry || !this.#judge(entry.authority, entry.identity, socket)) return true;
        socket.destroy();
        return false;
      },
      credentials: options.credentials,
      clock: options.clock ?? systemClock,
      timers: options.timers,
    });
  }

  close(): void {
    this.#stop();
    this.#live.close();
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(
    target: experimental.GrpcUri,
    _channelOptions: ChannelOptions,
    callCredentials?: CallCredentials,
  ): experimental.SecureConnector {
    const authority = target.path;
    const host = experimental.splitHostPort(authority)?.host ?? authority;
    const connector: experimental.SecureConnector = {
      connect: (socket: Socket) => this.#connect(socket, authority, host),
      waitForReady: async () => {},
      getCallCredentials: () => callCredentials ?? CallCredentials.createEmpty(),
      destroy: () => {},
    };
    return connector;
  }

  #connect(socket: Socket, authority: string, host: string): Promise<experimental.SecureConnectResult> {
    let identity: PeerIdentity | undefined;
    return new Promise((resolve, reject) => {
      const tlsSocket = connect(
        {
          socket,
          secureContext: this.#context,
          ALPNProtocols: ['h2'],
          // SNI carries names only; an IP literal is not sent (RFC 6066 3).
          ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
          rejectUnauthorized: true,
          checkServerIdentity: (_name, cert) => {
            identity = peerIdentityFromDer(cert.raw);
            this.#options.expiry?.observePeer(identity);
            return this.#judge(authority, identity);
          },
        },
        () => {
          tlsSocket.off('error', onError);
          if (identity) {
            this.#connections.set(tlsSocket, { authority, identity });
            this.#live.add(tlsSocket, identity);
          }
          resolve({ socket: tlsSocket, secure: true });
        },
      );
      const onError = (error: NodeJS.ErrnoException) => {
        if (error instanceof PeerRejectedError) return reject(error);
        const reason = classifyClientHandshakeError(error);
        if (!reason) return reject(error);
        // Counted, and named in the failed call's details as the authorizer's refusals are.
        const detail = `${authority}: ${error.code ?? 'handshake failed'} (${error.message.split('\n')[0]})`;
        this.#reject({ side: 'client', reason, detail });
        reject(new PeerRejectedError(reason, detail));
      };
      tlsSocket.once('error', onError);
    });
  }

  /** The server judged (serverRefusal); a refusal is recorded and returned as the connection's error. */
  #judge(authority: string, identity: PeerIdentity, socket?: TLSSocket): PeerRejectedError | undefined {
    const lookup = this.#options.expectedUri;
    const rejection = serverRefusal(identity, {
      authorize: this.#authorize,
      origin: authority,
      expectedUri: typeof lookup === 'function' ? lookup(authority) : lookup,
      now: (this.#options.clock ?? systemClock)(),
      trust: {
        side: 'client',
        credentials: this.#options.credentials,
        logger: this.#logger,
        metrics: this.#metrics,
        sample: this.#sample,
      },
      socket,
    });
    if (!rejection) return undefined;
    this.#reject(rejection);
    return new PeerRejectedError(rejection.reason, `${authority}: ${rejection.detail}`);
  }

  #reject(rejection: Rejection): void {
    recordRejection(rejection, this.#logger, this.#metrics, this.#sample);
    this.#options.onRejected?.(rejection);
  }
}
