// The HTTPS federation wire's paths: served by the federation listener's routes, called by the HTTPS peer
// transport. One list, so the two sides cannot drift.
export const FEDERATION_PATHS = {
  facts: '/v1/federation/facts',
  revocations: '/v1/federation/revocations',
  wake: '/v1/federation/wake',
  manifest: '/.well-known/tessera-manifest.json',
} as const;
