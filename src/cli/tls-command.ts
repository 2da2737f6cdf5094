// `tessera tls …`: probe a server, check material the way start-up does, run a small mTLS server.
import { Command, Option } from 'commander';
import { type Authorizer, anyOf, exactUri, spiffeTrustDomain, spkiPin, uriPrefix } from '../tls/authorize.ts';
import { loadMaterial } from '../tls/material.ts';
import { selfHandshake } from '../tls/self-handshake.ts';
import { probe } from '../transport/probe.ts';
import { formatProbe } from './format-probe.ts';
import { parseMillis, parsePort } from './parse.ts';
import { tlsServe } from './tls-serve.ts';

interface MaterialFlags {
  cert: string;
  key: string;
  ca: string;
}

function withMaterial(command: Command): Command {
  return command
    .requiredOption('--cert <file>', 'certificate chain (PEM, leaf first)')
    .requiredOption('--key <file>', 'private key (PEM)')
    .requiredOption('--ca <file>', 'CA bundle (PEM)');
}

export function tlsCommand(): Command {
  const tls = new Command('tls').description('probe, check and serve mutual TLS').exitOverride();

  withMaterial(tls.command('probe').argument('<host:port>', 'server to handshake with'))
    .description(
      'handshake with a server and print its identity, chain, expiry, suite and whether it would be authorized',
    )
    .option('--expect-uri <uri>', 'entity URI the server must hold as a URI SAN')
    .option('--json', 'print JSON')
    .addOption(new Option('--timeout <ms>', 'handshake timeout').default('10000'))
    .exitOverride()
    .action(
      async (
        target: string,
        flags: MaterialFlags & { expectUri?: string; json?: boolean; timeout: string },
      ) => {
        const { host, port } = parseTarget(target);
        const result = await probe({
          host,
          port,
          certPath: flags.cert,
          keyPath: flags.key,
          caPath: flags.ca,
          timeoutMs: parseMillis(flags.timeout, '--timeout'),
          ...(flags.expectUri ? { expectUri: flags.expectUri } : {}),
        });
        process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatProbe(result));
        if (!result.authorized) process.exitCode = 1;
      },
    );

  withMaterial(tls.command('check'))
    .description(
      'validate certificate, key and CA bundle as start-up does (rule 1 and a loopback self-handshake)',
    )
    .option('--entity-uri <uri>', 'URI that must be a URI SAN of the certificate')
    .option('--json', 'print JSON: {ok, cert_path, subject, not_after, uris, spki_sha256}')
    .exitOverride()
    .action(async (flags: MaterialFlags & { entityUri?: string; json?: boolean }) => {
      const material = await loadMaterial(
        { certPath: flags.cert, keyPath: flags.key, caPath: flags.ca },
        flags.entityUri ? { entityUri: flags.entityUri } : {},
      );
      await selfHandshake(material);
      const { leaf } = material;
      if (flags.json) {
        const body = {
          ok: true,
          cert_path: flags.cert,
          subject: leaf.subject,
          not_after: leaf.notAfter.toISOString(),
          uris: leaf.uris,
          spki_sha256: leaf.spkiSha256,
        };
        process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `ok: ${flags.cert} (${leaf.subject}) valid until ${leaf.notAfter.toISOString()}, URI SANs ${leaf.uris.join(', ') || 'none'}, SPKI sha256:${leaf.spkiSha256}\n`,
      );
    });

  withMaterial(tls.command('serve'))
    .description(
      'run a small mTLS HTTPS server (GET /whoami, POST /echo, GET /healthz) that reloads its material',
    )
    .option('--host <host>', 'bind address', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '0')
    .option('--entity-uri <uri>', 'our own URI, required in our certificate')
    .option('--allow-uri <uri...>', 'admit peers holding this exact URI SAN')
    .option(
      '--allow-prefix <prefix...>',
      "admit peers with a URI SAN under this prefix (ends with '/' or ':')",
    )
    .option('--trust-domain <domain...>', 'admit peers with a SPIFFE ID in this trust domain')
    .option('--pin <spki-sha256...>', 'admit peers whose SPKI SHA-256 is pinned')
    .option('--poll-ms <ms>', 'content-hash poll interval', '5000')
    .option('--no-watch', 'do not watch the material directory (reload on SIGHUP or poll only)')
    .exitOverride()
    .action(async (flags: MaterialFlags & ServeFlags) => {
      await tlsServe({
        certPath: flags.cert,
        keyPath: flags.key,
        caPath: flags.ca,
        host: flags.host,
        port: parsePort(flags.port, '--port'),
        pollIntervalMs: parseMillis(flags.pollMs, '--poll-ms'),
        watch: flags.watch,
        authorize: authorizerFromFlags(flags),
        ...(flags.entityUri ? { entityUri: flags.entityUri } : {}),
      });
    });

  return tls;
}

interface ServeFlags {
  host: string;
  port: string;
  entityUri?: string;
  allowUri?: string[];
  allowPrefix?: string[];
  trustDomain?: string[];
  pin?: string[];
  pollMs: string;
  /** false with --no-watch. */
  watch: boolean;
}

function authorizerFromFlags(flags: ServeFlags): Authorizer {
  const rules: Authorizer[] = [
    ...(flags.allowUri ?? []).map((uri) => exactUri(uri)),
    ...(flags.allowPrefix ?? []).map((prefix) => uriPrefix(prefix)),
    ...(flags.trustDomain ?? []).map((domain) => spiffeTrustDomain(domain)),
    ...(flags.pin?.length ? [spkiPin(flags.pin)] : []),
  ];
  if (rules.length === 0) {
    throw new Error(
      'a verified chain is not enough: give at least one of --allow-uri, --allow-prefix, --trust-domain, --pin',
    );
  }
  return anyOf(...rules);
}

function parseTarget(target: string): { host: string; port: number } {
  const match = target.match(/^\[?([^\]]+?)\]?:(\d+)$/);
  if (!match) throw new Error(`target must be HOST:PORT (got "${target}")`);
  return { host: match[1] as string, port: parsePort(match[2] as string, 'port') };
}
