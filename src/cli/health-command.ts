// `tessera health`: is the node on this host ready? GET /readyz on its API listener (or, with
// `--listener federation`, on the federation listener over mutual TLS with the node's own certificate),
// from the same settings as `tessera serve`, so a container HEALTHCHECK or a supervisor needs nothing else.
// Exit 0 ready; 1 not ready, another answer, or unreachable (the reason on stderr); 2 usage.
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { loadConfig } from '../node/settings/config.ts';
import type { Flags } from '../node/settings/read.ts';
import { SERVE_SETTINGS } from '../node/settings/table.ts';
import { parseMillis } from './parse.ts';
import { checkReadiness, type Listener, readinessTarget } from './readiness-probe.ts';
import { addSettingOptions } from './setting-options.ts';

interface HealthFlags extends Flags {
  listener?: string;
  timeout?: string;
  json?: boolean;
}

export function healthCommand(): Command {
  const command = new Command('health')
    .description("ask the node on this host whether it is ready (GET /readyz), from serve's settings")
    .addOption(
      new Option('--listener <listener>', 'which listener to ask')
        .choices(['api', 'federation'])
        .default('api'),
    )
    .addOption(new Option('--timeout <ms>', 'give up after this long').default('5000'))
    .option('--json', 'print the result as JSON')
    .exitOverride();
  addSettingOptions(command, SERVE_SETTINGS);
  command.action(async (flags: HealthFlags) => {
    const timeoutMs = parseMillis(flags.timeout ?? '5000', '--timeout');
    const { listener, timeout: _timeout, json, ...settings } = flags;
    // Silent: the insecure gates would log their SECURITY WARNING on every probe; serve logs it once.
    const config = loadConfig(settings, process.env, pino({ level: 'silent' }));
    const result = await checkReadiness(readinessTarget(config, listener as Listener), timeoutMs);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (result.ready) process.stdout.write(`ready: ${result.url}\n`);
    if (!result.ready) {
      if (!json) process.stderr.write(`tessera: ${result.status}: ${result.detail}\n`);
      process.exitCode = 1;
    }
  });
  return command;
}
