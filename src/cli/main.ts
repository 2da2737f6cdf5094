// `tessera` command line: each verb group lives in its own module; this file only assembles them and
// turns errors into a one-line message and a non-zero exit.
import { Command, CommanderError } from 'commander';
import { setDefaultLogLevel } from '../tls/logger.ts';
import { auditCommand } from './audit-command.ts';
import { demoCommand } from './demo-command.ts';
import { healthCommand } from './health-command.ts';
import { identityCommand } from './identity-command.ts';
import { keysCommand } from './keys-command.ts';
import { manifestCommand } from './manifest-command.ts';
import { peersCommand } from './peers-command.ts';
import { pkiCommand } from './pki-command.ts';
import { serveCommand } from './serve-command.ts';
import { tlogCommand } from './tlog-command.ts';
import { tlsCommand } from './tls-command.ts';

// The library never reads the environment; the CLI is where TESSERA_LOG_LEVEL reaches the default logger.
setDefaultLogLevel(process.env.TESSERA_LOG_LEVEL);

const program = new Command('tessera')
  .description('Mutual-TLS federation transport and reference federated fact node')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(pkiCommand());
program.addCommand(tlsCommand());
program.addCommand(demoCommand());
program.addCommand(serveCommand());
program.addCommand(healthCommand());
program.addCommand(peersCommand());
program.addCommand(manifestCommand());
program.addCommand(identityCommand());
program.addCommand(tlogCommand());
program.addCommand(keysCommand());
program.addCommand(auditCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tessera: ${message}\n`);
  process.exit(1);
}
