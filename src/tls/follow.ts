// The one way an adapter follows credential reloads: HTTPS servers swap their secure context, client
// agents build new connections with the new material, gRPC and database clients will do the same. Each
// adapter says what to do with new material; subscribing and unsubscribing are done here, once.
import type { Material } from './material.ts';

/** What an adapter needs of a CredentialSource. */
export interface CredentialFeed {
  readonly material: Material;
  on(event: 'change', listener: (material: Material) => void): unknown;
  off(event: 'change', listener: (material: Material) => void): unknown;
}

/**
 * Calls `apply` with every new validated material (and with the current one first when `initial` is set).
 * Returns the function that stops following; calling it twice is harmless.
 */
export function followCredentials(
  source: CredentialFeed,
  apply: (material: Material) => void,
  options: { initial?: boolean } = {},
): () => void {
  const listener = (material: Material) => apply(material);
  source.on('change', listener);
  if (options.initial) apply(source.material);
  return () => {
    source.off('change', listener);
  };
}
