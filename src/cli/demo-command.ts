// `tessera demo`: see demo.ts.
import { Command } from 'commander';
import { DEFAULT_DEMO_DIR, runDemo } from './demo.ts';

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
      const dataDir =
        flags.dataDir ??
        (process.env.TESSERA_DATA_DIR ? `${process.env.TESSERA_DATA_DIR}/demo` : DEFAULT_DEMO_DIR);
      await runDemo({ dataDir, once: flags.once ?? false });
    });
}
