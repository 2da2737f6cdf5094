// `tessera` command line: each verb group lives in its own module; this file only assembles them and
// turns errors into a one-line message and a non-zero exit.
import { Command, CommanderError } from 'commander';
import { setDefaultLogLevel } from '../tls/logger.ts';
import { auditCommand } from './audit-command.ts';
import { capabilityCommand } from './capability-command.ts';
import { demoCommand } from './demo-command.ts';
import { doctorCommand } from './doctor-command.ts';
import { formatCliError } from './error-output.ts';
import { healthCommand } from './health-command.ts';
import { identityCommand } from './identity-command.ts';
import { keysCommand } from './keys-command.ts';
import { manifestCommand } from './manifest-command.ts';
import { peersCommand } from './peers-command.ts';
import { pkiCommand } from './pki-command.ts';
import { serveCommand } from './serve-command.ts';
import { tlogCommand } from './tlog-command.ts';
import { tlsCommand } from './tls-command.ts';
import { verifyProofCommand } from './verify-proof-command.ts';

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
program.addCommand(doctorCommand());
program.addCommand(healthCommand());
program.addCommand(peersCommand());
program.addCommand(manifestCommand());
program.addCommand(identityCommand());
program.addCommand(tlogCommand());
program.addCommand(keysCommand());
program.addCommand(auditCommand());
program.addCommand(verifyProofCommand());
program.addCommand(capabilityCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  process.stderr.write(formatCliError(error, process.argv.includes('--json')));
  process.exit(1);
}
