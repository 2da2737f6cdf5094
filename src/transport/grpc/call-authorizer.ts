// Per-call authorization for gRPC, as a grpc-js server interceptor: before the handler sees the call (its
// metadata is held back), the caller's certificate from the call's auth context must pass the certificate
// rules (else UNAUTHENTICATED) and the authorizer attached to the method or its service (else
// PERMISSION_DENIED). Every refusal is logged and counted in the same TLS rejection metric as a handshake.
import {
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from '@grpc/grpc-js';
import { type Authorizer, peerCertificateRules } from '../../tls/authorize.ts';
import { type Clock, systemClock } from '../../tls/clock.ts';
import { describePeer } from '../../tls/identity.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { type Rejection, recordRejection } from '../rejections.ts';
import { grpcPeer } from './peer.ts';

export interface GrpcCallAuthorizerOptions {
  /** Applies to every call that has no more specific rule; default: allow (the connection gate already ran). */
  authorize?: Authorizer;
  /**
   * Rules by service ('pkg.Service') or method ('/pkg.Service/Method'); a method rule wins over its
   * service's rule, which wins over `authorize`.
   */
  rules?: Record<string, Authorizer>;
  clock?: Clock;
  logger?: Logger;
  /** Where refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  onRejected?: (rejection: GrpcCallRejection) => void;
}

export interface GrpcCallRejection extends Rejection {
  /** The method refused, '/pkg.Service/Method'. */
  method: string;
  code: typeof status.UNAUTHENTICATED | typeof status.PERMISSION_DENIED;
}

/** A grpc-js ServerInterceptor enforcing the certificate rules and the per-service / per-method authorizers. */
export function grpcCallAuthorizer(options: GrpcCallAuthorizerOptions = {}): ServerInterceptor {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? createTlsMetrics();
  const sample = createLogSampler();
  const rules = options.rules ?? {};

  const ruleFor = (path: string): Authorizer | undefined =>
    rules[path] ?? rules[path.split('/')[1] ?? ''] ?? options.authorize;

  const refuse = (call: ServerInterceptingCallInterface, rejection: GrpcCallRejection) => {
    recordRejection(rejection, logger, metrics, sample);
    options.onRejected?.(rejection);
    call.sendStatus({ code: rejection.code, details: `${rejection.reason}: ${rejection.detail}` });
  };

  return (method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const base = { side: 'server' as const, method: method.path, remoteAddress: call.getPeer() };
        const identity = grpcPeer(call);
        if (!identity) {
          refuse(call, {
            ...base,
            code: status.UNAUTHENTICATED,
            reason: 'no_client_certificate',
            detail: 'the call carries no client certificate',
          });
          return;
        }
        const context = { side: 'server' as const, now: clock() };
        const certificate = peerCertificateRules(identity, context);
        if (!certificate.allow) {
          refuse(call, {
            ...base,
            code: status.UNAUTHENTICATED,
            reason: certificate.reason,
            detail: certificate.detail,
            peer: describePeer(identity),
          });
          return;
        }
        const decision = ruleFor(method.path)?.(identity, context) ?? { allow: true };
        if (!decision.allow) {
          refuse(call, {
            ...base,
            code: status.PERMISSION_DENIED,
            reason: decision.reason,
            detail: decision.detail,
            peer: describePeer(identity),
          });
          return;
        }
        next(metadata);
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}
