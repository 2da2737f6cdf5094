// The API listener's authentication and authorization, one onRequest hook (before the body is read):
// the access the route declares in its config first (open routes need nothing; none declared = admin), then the bearer token → a principal
// (managed key, or the static bootstrap key), then the permission. Sets request.principal for the
// handlers, the quota hook and audit. Tokens are never logged or echoed; failures are reported by reason.
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NodeError } from '../../errors.ts';
import { accessOf } from '../../http/route-config.ts';
import { parseToken } from './api-key-token.ts';
import type { ApiKeys, AuthFailure } from './api-keys.ts';
import { bindingRefusal } from './cert-binding.ts';
import type { FailureLimiter } from './failure-limiter.ts';
import { ANONYMOUS, forbiddenDetail, type Permission, type Principal, STATIC_ADMIN } from './permissions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set by installApiAuth for every non-open route (null on open routes). */
    principal: Principal | null;
  }
}

export interface ApiAuthOptions {
  apiKeys: ApiKeys;
  /** TESSERA_API_KEY: accepted as the `static-admin` principal with every permission (bootstrap path). */
  staticAdminKey?: string | undefined;
  /** false (loopback only): no token is asked for and every caller is the `anonymous` principal. */
  required: boolean;
  /** A request refused with 401; `keyId` when the token named one. Never receives the token. */
  onAuthFailed?(reason: AuthFailure, keyId?: string): void;
  /** A request refused with 403. */
  onForbidden?(principal: Principal, permission: Permission): void;
  /** Counts every refusal by reason (tessera_api_auth_failures_total), 403s and limiter refusals included. */
  countFailure?(labels: { reason: string }): void;
  /** Per-address limit on failed authentications, checked before any key work. */
  failureLimiter?: FailureLimiter;
}

const DETAIL: Record<AuthFailure, string> = {
  missing: 'an API key is required: Authorization: Bearer <key>',
  malformed: 'the API key is not valid',
  unknown_key: 'the API key is not valid',
  bad_secret: 'the API key is not valid',
  expired: 'the API key has expired',
  revoked: 'the API key has been revoked',
  cert_binding_mismatch: 'the API key is bound to another client certificate',
};

const digest = (value: string) => hash('sha256', value, 'buffer');

function unauthorized(reply: FastifyReply, reason: AuthFailure): NodeError {
  reply.header('www-authenticate', 'Bearer realm="tessera"');
  return new NodeError('unauthorized', DETAIL[reason]);
}

export function installApiAuth(app: FastifyInstance, options: ApiAuthOptions): void {
  // A managed token used as the static key would outlive its revocation: refuse it outright.
  if (options.staticAdminKey && parseToken(options.staticAdminKey))
    throw new Error(
      'TESSERA_API_KEY holds a managed API key (tsk_…); managed keys are checked against the store, set a different static key or none',
    );
  // Hash both sides so the static comparison is constant-time whatever the lengths.
  const staticDigest = options.staticAdminKey ? digest(options.staticAdminKey) : null;
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    const access = accessOf(request);
    if (access === 'open') return;
    // Peer routes belong to the federation listener: on the API listener they are an admin's.
    const need = access === 'peer' ? 'admin' : access;
    if (!options.required) {
      request.principal = ANONYMOUS;
      return;
    }
    // Behind a trusted proxy, the client's forwarded address (src/node/app/trusted-proxy.ts).
    const address = request.clientIp;
    const wait = options.failureLimiter?.waitMs(address) ?? 0;
    if (wait > 0) {
      options.countFailure?.({ reason: 'too_many_failures' });
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      throw new NodeError(
        'too_many_auth_failures',
        `too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s`,
      );
    }
    const token = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!token) {
      options.countFailure?.({ reason: 'missing' });
      options.onAuthFailed?.('missing');
      throw unauthorized(reply, 'missing');
    }
    let principal: Principal;
    if (staticDigest && !parseToken(token) && timingSafeEqual(digest(token), staticDigest))
      principal = STATIC_ADMIN;
    else {
      const result = await options.apiKeys.verify(token);
      if (!result.ok) {
        options.failureLimiter?.failed(address);
        options.countFailure?.({ reason: result.reason });
        options.onAuthFailed?.(result.reason, result.keyId);
        throw unauthorized(reply, result.reason);
      }
      principal = result.principal;
    }
    const unbound = bindingRefusal(principal.certSha256, request.peer);
    if (unbound) {
      // A bound key without its certificate: a stolen key, or a misrouted client. Counted as a failure.
      options.failureLimiter?.failed(address);
      options.countFailure?.({ reason: 'cert_binding_mismatch' });
      options.onAuthFailed?.('cert_binding_mismatch', principal.keyId);
      reply.header('www-authenticate', 'Bearer realm="tessera", error="invalid_token"');
      throw new NodeError('certificate_binding_mismatch', unbound);
    }
    request.principal = principal;
    if (need !== 'authenticated' && !principal.permissions.includes(need)) {
      options.countFailure?.({ reason: 'forbidden' });
      options.onForbidden?.(principal, need);
      throw new NodeError('forbidden', forbiddenDetail(need));
    }
  });
}
