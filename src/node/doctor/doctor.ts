// `tessera doctor`: explains a node's TLS state from the settings the node reads, before it starts or
// beside a running one, without touching the network except a `--peer-url` given to it. Each family of
// checks is its own module; this file runs them in order and groups what they find.
import { type Clock, systemClock } from '../../tls/clock.ts';
import type { LoadedCrl } from '../../tls/crl.ts';
import type { Env, Flags } from '../settings/read.ts';
import { checkCaBundle } from './ca-bundle-check.ts';
import { checkCrls } from './crl-check.ts';
import { checkFiles, expectedOwner } from './files-check.ts';
import type { DoctorReport, DoctorSection } from './finding.ts';
import { checkMaterial } from './material-check.ts';
import { checkPeerCertFile, checkPeerUrl, parsePeerUrl } from './peer-check.ts';
import { checkSettings } from './settings-check.ts';

export interface DoctorOptions {
  /** The `tessera serve` flags given to doctor, and the environment (both read as `serve` reads them). */
  flags: Flags;
  env: Env;
  /** A peer's certificate file (PEM or DER, leaf first): would we accept it? */
  peerCert?: string | undefined;
  /** A peer's federation URL: one handshake with our identity, both ways judged. */
  peerUrl?: string | undefined;
  /** The entity URI the peer must prove. */
  peerUri?: string | undefined;
  /** Handshake timeout for `peerUrl`; default 10 s. */
  timeoutMs?: number;
  clock?: Clock;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const clock = options.clock ?? systemClock;
  // A malformed peer URL is a usage error, found before anything else runs.
  if (options.peerUrl !== undefined) parsePeerUrl(options.peerUrl);
  const settings = checkSettings(options.flags, options.env);
  const sections: DoctorSection[] = [{ title: 'settings', findings: settings.findings }];
  const peerWanted = options.peerCert !== undefined || options.peerUrl !== undefined;

  const paths = settings.tls;
  if (!paths) {
    const note =
      settings.federation === 'none' || settings.federation === 'insecure'
        ? 'no TLS material configured (federation is off or insecure): nothing to check'
        : 'skipped: the TLS paths are not all given (see settings)';
    sections.push({ title: 'own certificate and key', findings: [], note });
    if (peerWanted && settings.findings.length === 0)
      throw new Error(
        "--peer-cert and --peer-url judge a peer with the node's TLS material: set TESSERA_TLS_CERT_PATH, TESSERA_TLS_KEY_PATH and TESSERA_TLS_CA_BUNDLE (or their flags)",
      );
    if (peerWanted) sections.push({ title: 'peer', findings: [], note: 'skipped: no TLS material of ours' });
    return { sections };
  }

  const owner = await expectedOwner(settings.pidFile);
  const files = await checkFiles(paths, owner);
  const material = await checkMaterial(paths, {
    entityUri: settings.entityUri,
    expiry: settings.expiry,
    minRemainingLifetimeMs: settings.minRemainingLifetimeMs,
    clock,
  });
  const ownTitle = `own certificate and key (${paths.certPath}, ${paths.keyPath})`;
  const onCa = (f: { subject: string }) => f.subject === paths.caPath;
  sections.push({ title: ownTitle, findings: [...files.filter((f) => !onCa(f)), ...material.own] });
  const { cas } = material.inspection;
  sections.push({
    title: `CA bundle (${paths.caPath})`,
    findings: [
      ...files.filter(onCa),
      ...material.bundle,
      ...(cas ? checkCaBundle(cas, paths.caPath, { expiry: settings.expiry, clock }) : []),
    ],
  });

  let crls: LoadedCrl[] = [];
  if (settings.crl.paths.length > 0) {
    const title = `CRLs (${settings.crl.paths.join(', ')})`;
    if (cas) {
      const outcome = await checkCrls(settings.crl.paths, cas, {
        stale: settings.crl.stale,
        expiry: settings.expiry,
        clock,
      });
      crls = outcome.crls;
      sections.push({ title, findings: outcome.findings });
    } else sections.push({ title, findings: [], note: 'skipped: our CA bundle cannot be used (see above)' });
  }

  const peer = {
    peerUri: options.peerUri,
    clock,
    ...(crls.length > 0 ? { trust: { crls, crlStale: settings.crl.stale, cas: cas ?? [] } } : {}),
  };
  if (options.peerCert !== undefined) {
    const title = `peer certificate ${options.peerCert}`;
    sections.push(
      cas
        ? { title, ...(await checkPeerCertFile(options.peerCert, cas, peer)), ...identityNote(options) }
        : { title, findings: [], note: 'skipped: our CA bundle cannot be used (see above)' },
    );
  }
  if (options.peerUrl !== undefined) {
    const outcome = await checkPeerUrl(options.peerUrl, paths, {
      ...peer,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    sections.push({
      title: `peer ${options.peerUrl}`,
      findings: outcome.findings,
      ...(outcome.skipped ? { note: `skipped: ${outcome.skipped}` } : identityNote(options)),
    });
  }
  return { sections };
}

function identityNote(options: DoctorOptions): { note?: string } {
  return options.peerUri
    ? {}
    : { note: 'its identity was not checked against an entity URI: give --peer-uri to check that too' };
}
