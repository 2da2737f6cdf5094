// `tessera doctor`: the node's TLS state explained from the settings `tessera serve` reads (the same
// flags and variables, STIGMEM_* aliases included), before start or beside a running node. Exit 0 clean,
// 1 errors, 2 warnings only; `--json` prints {findings, summary}.
import { Command } from 'commander';
import { runDoctor } from '../node/doctor/doctor.ts';
import { exitCodeOf, summarize, toJson } from '../node/doctor/finding.ts';
import type { Flags } from '../node/settings/read.ts';
import { SERVE_SETTINGS } from '../node/settings/table.ts';
import { formatDoctor } from './format-doctor.ts';
import { parseMillis } from './parse.ts';
import { addSettingOptions } from './setting-options.ts';

interface DoctorFlags extends Flags {
  peerCert?: string;
  peerUrl?: string;
  peerUri?: string;
  timeout: string;
  json?: boolean;
}

export function doctorCommand(): Command {
  const command = new Command('doctor')
    .description(
      "check the node's settings, certificate, key, CA bundle and file modes as `tessera serve` would read them, and whether a peer would be accepted; exit 0 clean, 1 errors, 2 warnings only",
    )
    .option(
      '--peer-cert <file>',
      "a peer's certificate (PEM or DER, leaf first): would we accept it, and why not",
    )
    .option(
      '--peer-url <url>',
      "a peer's https:// federation URL: one handshake with our identity, judged both ways",
    )
    .option('--peer-uri <uri>', 'the entity URI the peer must prove (with --peer-cert / --peer-url)')
    .option('--timeout <ms>', 'handshake timeout for --peer-url', '10000')
    .option(
      '--json',
      'print {findings: [{code, severity, subject, message, fix}], summary: {errors, warnings}}',
    )
    // Exit 2 means "warnings only" here: a usage error must not read as one.
    .exitOverride((error) => {
      if (error.exitCode !== 0) process.exit(1);
      throw error;
    });
  addSettingOptions(command, SERVE_SETTINGS);
  command.action(async (flags: DoctorFlags) => {
    const report = await runDoctor({
      flags,
      env: process.env,
      peerCert: flags.peerCert,
      peerUrl: flags.peerUrl,
      peerUri: flags.peerUri,
      timeoutMs: parseMillis(flags.timeout, '--timeout'),
    });
    process.stdout.write(flags.json ? `${JSON.stringify(toJson(report), null, 2)}\n` : formatDoctor(report));
    process.exitCode = exitCodeOf(summarize(report));
  });
  return command;
}
