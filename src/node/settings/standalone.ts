// TESSERA_FEDERATION_ENABLED=false (Stigmem's STIGMEM_FEDERATION_ENABLED=false): a single node with no
// federation listener. Rule 7's gates are then moot: TLS material is optional (a TLS API still needs it),
// the insecure switches have nothing to open and are ignored, and asking for push wakes contradicts the
// setting, so it fails closed.

import type { FederationSecurity } from '../../tls/insecure.ts';
import type { Logger } from '../../tls/logger.ts';
import { problem, settingName } from './read.ts';
import { SETTINGS } from './table.ts';

type Values = Partial<{
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsCa: string | undefined;
  insecure: string | undefined;
  insecureNonLoopback: string | undefined;
  pushEnabled: boolean | undefined;
}>;

export function standaloneSecurity(
  s: Values,
  problems: string[],
  logger?: Logger,
): FederationSecurity | { mode: 'none' } {
  const off = `${settingName(SETTINGS.federationEnabled)} is false`;
  if (s.pushEnabled === true)
    problems.push(problem(SETTINGS.pushEnabled, `=true needs federation, but ${off}: unset one`));
  if (s.insecure || s.insecureNonLoopback)
    logger?.info(
      { event: 'federation_disabled_insecure_ignored' },
      `federation is disabled: ${SETTINGS.insecure.env} and ${SETTINGS.insecureNonLoopback.env} have no effect`,
    );
  const paths = [SETTINGS.tlsCert, SETTINGS.tlsKey, SETTINGS.tlsCa] as const;
  const [certPath, keyPath, caPath] = [s.tlsCert, s.tlsKey, s.tlsCa];
  if (certPath && keyPath && caPath) return { mode: 'mtls', certPath, keyPath, caPath };
  const given = paths.filter((_, i) => [certPath, keyPath, caPath][i]);
  if (given.length > 0)
    problems.push(
      `${paths.map(settingName).join(', ')}: give all three or none (${off}; the material then serves only a TLS API)`,
    );
  return { mode: 'none' };
}
