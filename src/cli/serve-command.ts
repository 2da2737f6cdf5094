// `tessera serve`: runs a federated node. Every setting is a TESSERA_* variable and a flag (flag wins);
// all are validated before anything is opened, and a bad one exits 1 with a message naming it.
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { loadConfig, SETTINGS } from '../node/config.ts';

const FLAGS: [keyof typeof SETTINGS, string, string][] = [
  ['dataDir', '--data-dir <dir>', 'node state: database, node key'],
  ['entityUri', '--entity-uri <uri>', "this node's identity; a URI SAN of its TLS certificate"],
  ['nodeUrl', '--node-url <url>', 'advertised federation URL (https://host:port)'],
  ['federationHost', '--federation-host <host>', 'federation listener address'],
  ['federationPort', '--federation-port <port>', 'federation listener port (0 = any free port)'],
  ['apiHost', '--api-host <host>', 'API listener address'],
  ['apiPort', '--api-port <port>', 'API listener port (0 = any free port)'],
  ['tlsCert', '--tls-cert <file>', 'TLS certificate chain (PEM, leaf first)'],
  ['tlsKey', '--tls-key <file>', 'TLS private key (PEM)'],
  ['tlsCa', '--tls-ca <file>', 'CA bundle that peers must chain to (PEM)'],
  ['apiTls', '--api-tls <mode>', 'API listener TLS: off | tls | mtls'],
  [
    'apiBehindTrustedProxy',
    '--api-behind-trusted-proxy <bool>',
    'allow a plaintext non-loopback API behind a TLS proxy',
  ],
  ['authRequired', '--auth-required <bool>', 'require API keys (false only on a loopback API)'],
  ['apiKeyFile', '--api-key-file <file>', 'file holding the API key (or TESSERA_API_KEY)'],
  ['insecure', '--federation-insecure <bool>', 'federation WITHOUT TLS, local development only'],
  [
    'insecureNonLoopback',
    '--local-dev-allow-insecure-non-loopback <bool>',
    'second acknowledgement for insecure off loopback',
  ],
  ['pullInterval', '--pull-interval <seconds>', 'federation pull cycle'],
  ['wakeDebounce', '--wake-debounce-ms <ms>', 'delay that batches local writes into one wake'],
  ['reforward', '--reforward <bool>', 'also serve facts received from other peers'],
  [
    'authFailures',
    '--auth-failures-per-hour <n>',
    'failed API authentications per client address before 429',
  ],
  ['rateLimitWrite', '--rate-limit-write-per-hour <n>', 'fact writes per principal per hour'],
  ['rateLimitRead', '--rate-limit-read-per-hour <n>', 'fact reads per principal per hour'],
  ['rateLimitFederationPull', '--rate-limit-federation-pull-per-hour <n>', 'feed pages per peer per hour'],
  ['rateLimitAdmin', '--rate-limit-admin-per-hour <n>', 'admin requests per principal per hour'],
  [
    'rateLimitDisabledAck',
    '--rate-limit-disabled-ack <bool>',
    'acknowledge write and read quotas both 0 (off)',
  ],
  ['nodeKeyPath', '--node-key-path <file>', 'node Ed25519 key (PEM); default <data-dir>/node-key.pem'],
  ['logLevel', '--log-level <level>', 'pino level'],
];

export function serveCommand(): Command {
  const command = new Command('serve').description('run a federated Tessera node').exitOverride();
  for (const [key, flag, help] of FLAGS) {
    const setting = SETTINGS[key];
    const fallback = 'fallback' in setting ? ` (default ${setting.fallback})` : '';
    command.addOption(new Option(flag, `${help}; env ${setting.env}${fallback}`));
  }
  command.action(async (flags: Record<string, string | undefined>) => {
    const level = flags.logLevel ?? process.env.TESSERA_LOG_LEVEL ?? 'info';
    const logger = pino({
      name: 'tessera',
      level: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level) ? level : 'info',
    });
    const config = loadConfig(flags, process.env, logger);
    // Loaded on use, so the TLS and PKI tools never depend on the node layer loading.
    const { startNode } = await import('../node/node.ts');
    // The handlers are in place before `node_ready` is logged: a supervisor that signals right after
    // seeing it must reach a clean stop, never the default kill.
    let stopping = false;
    let node: Awaited<ReturnType<typeof startNode>> | undefined;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'node_stopping', signal }, 'stopping');
      await node?.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    node = await startNode(config, { logger });
    if (stopping) {
      await node.close();
      return;
    }
    logger.info(
      {
        event: 'node_ready',
        entity_uri: node.entityUri,
        api_url: node.apiUrl,
        federation_url: node.federationUrl,
      },
      `node ${node.entityUri} ready: API ${node.apiUrl}, federation ${node.federationUrl}`,
    );
  });
  return command;
}
