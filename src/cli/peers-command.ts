// `tessera peers …`: the operator's side of peering, through the node's admin API.
import { Command, Option } from 'commander';
import { type ApiTarget, apiCall } from './api-client.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';

interface PeerView {
  id: string;
  entity_uri: string;
  federation_url: string;
  fingerprint: string;
  status: string;
  allowed_scopes: string[];
  /** In lists: how replication from the peer is going. */
  replication?: {
    degraded: string | null;
    failures: number;
    last_success_at?: string | null;
    last_error?: { reason: string; at: string } | null;
    facts_behind?: number | null;
  };
  /** In lists: the peer's clock minus ours, as last estimated. */
  clock?: { skew_seconds: number; uncertainty_seconds: number } | null;
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

/** The replication line of a listed peer: last clean pull, its clock, facts still waiting, the last failure. */
function replicationLine(r: NonNullable<PeerView['replication']>, clock: PeerView['clock']): string {
  const parts = [`last pull ${r.last_success_at ?? 'never'}`];
  if (clock) parts.push(`clock ${signed(clock.skew_seconds)} s (±${clock.uncertainty_seconds} s)`);
  if (r.facts_behind !== undefined && r.facts_behind !== null) parts.push(`${r.facts_behind} facts behind`);
  if (r.last_error) parts.push(`last error ${r.last_error.reason} at ${r.last_error.at}`);
  return `\n  ${parts.join(', ')}`;
}

/** The API client flags: TLS material here, the URL and the key from the settings table. */
type ClientFlags = Omit<ApiTarget, 'api' | 'apiKey'> & { api?: string; json?: boolean };

function withApi(command: Command): Command {
  return addSettingOptions(command, ['apiUrl', 'apiKey'])
    .addOption(new Option('--ca <file>', 'CA bundle for an https API'))
    .addOption(new Option('--cert <file>', 'client certificate for an mtls API'))
    .addOption(new Option('--key <file>', 'client key for an mtls API'))
    .option('--json', 'print JSON');
}

/** Where to call: the node API and the key, read like `tessera serve` reads its settings. */
function target(flags: ClientFlags): ApiTarget {
  const { apiUrl, apiKey } = commandSettings(['apiUrl', 'apiKey'], flags);
  return { ...flags, api: apiUrl, apiKey };
}

const show = (peer: PeerView) =>
  `${peer.id}  ${peer.status.padEnd(8)}  ${peer.entity_uri}  ${peer.federation_url}\n  key ${peer.fingerprint}  scopes ${peer.allowed_scopes.join(',')}${
    peer.replication && peer.status === 'approved' ? replicationLine(peer.replication, peer.clock) : ''
  }${
    peer.replication?.degraded
      ? `\n  DEGRADED: ${peer.replication.degraded} (${peer.replication.failures} unclean pulls in a row; backing off)`
      : ''
  }`;

function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function peersCommand(): Command {
  const peers = new Command('peers')
    .description('add, approve, list and revoke federation peers')
    .exitOverride();

  withApi(
    peers
      .command('add')
      .argument('<federation-url>', "the peer's federation URL, e.g. https://10.0.0.2:8765"),
  )
    .description("fetch the peer's manifest over mTLS, prove it, and store the peer as pending")
    .exitOverride()
    .action(async (url: string, flags: ClientFlags) => {
      const peer = await apiCall<PeerView>(target(flags), 'POST', '/v1/admin/peers', { url });
      print(
        flags.json,
        peer,
        `${show(peer)}\nCompare the key fingerprint with the peer's operator, then:\n  tessera peers approve ${peer.id} --fingerprint ${peer.fingerprint}`,
      );
    });

  withApi(peers.command('approve').argument('<id>', 'peer id (from peers add / list)'))
    .description('approve a pending peer once its key fingerprint was confirmed out of band')
    .requiredOption(
      '--fingerprint <sha256:hex>',
      "the peer's key fingerprint, as its operator read it to you",
    )
    .option('--scopes <list>', 'scopes this peer may receive (comma-separated; default company,public)')
    .option(
      '--allowed-cidrs <list>',
      'CIDR networks its federation requests must come from (comma-separated; "" removes the allowlist)',
    )
    .exitOverride()
    .action(
      async (
        id: string,
        flags: ClientFlags & { fingerprint: string; scopes?: string; allowedCidrs?: string },
      ) => {
        const body = {
          fingerprint: flags.fingerprint,
          ...(flags.scopes ? { allowed_scopes: flags.scopes.split(',').map((s) => s.trim()) } : {}),
          ...(flags.allowedCidrs !== undefined
            ? {
                allowed_cidrs: flags.allowedCidrs
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
        };
        const peer = await apiCall<PeerView>(
          target(flags),
          'POST',
          `/v1/admin/peers/${encodeURIComponent(id)}/approve`,
          body,
        );
        print(flags.json, peer, show(peer));
      },
    );

  withApi(peers.command('list'))
    .description('list peers')
    .exitOverride()
    .action(async (flags: ClientFlags) => {
      const { peers: list } = await apiCall<{ peers: PeerView[] }>(target(flags), 'GET', '/v1/admin/peers');
      print(flags.json, list, list.length > 0 ? list.map(show).join('\n') : '(no peers)');
    });

  withApi(peers.command('revoke').argument('<id>', 'peer id'))
    .description('revoke a peer: its open connections close and it is refused from now on')
    .exitOverride()
    .action(async (id: string, flags: ClientFlags) => {
      const peer = await apiCall<PeerView>(
        target(flags),
        'POST',
        `/v1/admin/peers/${encodeURIComponent(id)}/revoke`,
        {},
      );
      print(flags.json, peer, show(peer));
    });
  return peers;
}
