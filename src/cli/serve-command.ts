// `tessera serve`: runs a federated node. Its flags, their help and the env variables come from the
// settings table (src/node/settings/table.ts); all are validated before anything is opened, and every bad one is
// named in one message (exit 1).
import { Command } from 'commander';
import { pino } from 'pino';
import { loadConfig } from '../node/settings/config.ts';
import { type Flags, rawSetting } from '../node/settings/read.ts';
import { LOG_LEVELS, SERVE_SETTINGS, SETTINGS } from '../node/settings/table.ts';
import { writePidFile } from './pid-file.ts';
import { addSettingOptions } from './setting-options.ts';

export function serveCommand(): Command {
  const command = new Command('serve').description('run a federated Tessera node').exitOverride();
  addSettingOptions(command, SERVE_SETTINGS);
  command.action(async (flags: Flags) => {
    // The logger exists before the settings are checked (the insecure gate warns through it); a bad level
    // is reported with the others and falls back to info here.
    const level = rawSetting(SETTINGS.logLevel, flags, process.env) ?? 'info';
    const logger = pino({
      name: 'tessera',
      level: (LOG_LEVELS as readonly string[]).includes(level) ? level : 'info',
    });
    const config = loadConfig(flags, process.env, logger);
    // Loaded on use, so the TLS and PKI tools never depend on the node layer loading.
    const { startNode } = await import('../node/app/compose.ts');
    // The handlers are in place before `node_ready` is logged: a supervisor that signals right after
    // seeing it must reach a clean stop, never the default kill.
    let stopping = false;
    let node: Awaited<ReturnType<typeof startNode>> | undefined;
    const removePidFile = config.pidFile ? await writePidFile(config.pidFile) : () => {};
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'node_stopping', signal }, 'stopping');
      await node?.close();
      removePidFile();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    // The TLS material and key rings reload themselves on SIGHUP; this only says that it arrived.
    process.on('SIGHUP', () => logger.info({ event: 'sighup' }, 'SIGHUP: reloading TLS material and keys'));
    try {
      node = await startNode(config, { logger });
    } catch (error) {
      removePidFile();
      throw error;
    }
    if (stopping) {
      await node.close();
      return;
    }
    const federationUrl = node.federation ? node.federationUrl : null;
    logger.info(
      {
        event: 'node_ready',
        entity_uri: node.entityUri,
        api_url: node.apiUrl,
        federation_url: federationUrl,
        ...(node.grpcEndpoint ? { grpc_endpoint: node.grpcEndpoint } : {}),
        ...(config.pidFile ? { pid_file: config.pidFile, pid: process.pid } : {}),
      },
      `node ${node.entityUri} ready: API ${node.apiUrl}, federation ${federationUrl ?? 'disabled'}`,
    );
  });
  return command;
}
