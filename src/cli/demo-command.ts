// `tessera demo`: see demo.ts.
import { join } from 'node:path';
import { Command } from 'commander';

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'two federated nodes on loopback over mTLS: peering, a fact replicated, an intruder refused; runs until Ctrl-C',
    )
    .option(
      '--data-dir <dir>',
      'dev PKI and node state (default $TESSERA_DATA_DIR/demo or ./tessera-data/demo)',
    )
    .option('--once', 'exit after the demonstration')
    .exitOverride()
    .action(async (flags: { dataDir?: string; once?: boolean }) => {
      const dataDir = flags.dataDir ?? join(process.env.TESSERA_DATA_DIR ?? 'tessera-data', 'demo');
      // Loaded on use, so the TLS and PKI tools never depend on the node layer loading.
      const { runDemo } = await import('./demo.ts');
      await runDemo({ dataDir, once: flags.once ?? false });
    });
}
