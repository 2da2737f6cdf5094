// `tessera pki …`: create a CA, issue node certificates, inspect certificates, and set up a dev PKI.
// Thin wrappers over src/pki: argument syntax is checked here, everything else by the library, whose
// errors (PkiError) reach main.ts and become `tessera: <message>` with exit status 1.
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  createDevPki,
  DEFAULT_CA_DAYS,
  DEFAULT_CA_NAME,
  DEFAULT_KEY_ALGO,
  DEFAULT_LEAF_DAYS,
  DEFAULT_TRUST_DOMAIN,
  formatInspection,
  initCa,
  inspectCertificates,
  issueCrl,
  issueLeaf,
  KEY_ALGOS,
  type KeyAlgo,
  MAX_DAYS,
  PkiError,
} from '../pki/index.ts';

export function pkiCommand(): Command {
  // Settings given to a command before its subcommands are created are inherited by them; settings of
  // the root program are not (it is attached with addCommand), so usage errors are routed to main.ts here.
  const pki = new Command('pki')
    .description('certificate authority and node certificates for Tessera mTLS')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  pki
    .command('init-ca')
    .description('create a CA: DIR/ca.crt and DIR/ca.key (0600)')
    .requiredOption('--dir <dir>', 'directory for ca.crt and ca.key (created if missing)')
    .option('--name <cn>', 'subject common name of the CA', DEFAULT_CA_NAME)
    .addOption(algoOption())
    .addOption(daysOption(DEFAULT_CA_DAYS))
    .option('--force', 'replace an existing CA (certificates it issued stop being trusted)', false)
    .option('--json', 'print JSON: {cert_path, key_path}')
    .action(
      async (opts: {
        dir: string;
        name: string;
        algo: KeyAlgo;
        days: number;
        force: boolean;
        json?: boolean;
      }) => {
        const { certPath, keyPath } = await initCa(opts);
        if (opts.json) return printJson({ cert_path: certPath, key_path: keyPath });
        print(`wrote ${certPath}`, `wrote ${keyPath} (mode 0600, keep it secret)`);
      },
    );

  pki
    .command('issue')
    .description(
      'issue a node certificate signed by the CA: OUT/NAME.crt (the leaf only: peers hold the CA in their bundle) and OUT/NAME.key (0600); ' +
        're-issuing replaces both files together',
    )
    .requiredOption('--ca-dir <dir>', 'directory holding ca.crt and ca.key')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .requiredOption('--name <name>', 'file name stem and subject CN (letters, digits, . _ -)')
    .requiredOption(
      '--uri <uri...>',
      'URI SAN(s): the entity URI of the node, e.g. spiffe://example.org/node/a',
    )
    .option('--dns <name...>', 'DNS SAN(s)')
    .option('--ip <addr...>', 'IP address SAN(s)')
    .addOption(algoOption())
    .addOption(daysOption(DEFAULT_LEAF_DAYS))
    .option('--json', 'print JSON: {cert_path, key_path, uris, spki_sha256}')
    .action(
      async (opts: {
        json?: boolean;
        caDir: string;
        out: string;
        name: string;
        uri: string[];
        dns?: string[];
        ip?: string[];
        algo: KeyAlgo;
        days: number;
      }) => {
        const leaf = await issueLeaf({
          caDir: opts.caDir,
          outDir: opts.out,
          name: opts.name,
          uris: opts.uri,
          dnsNames: opts.dns ?? [],
          ips: opts.ip ?? [],
          algo: opts.algo,
          days: opts.days,
        });
        if (opts.json)
          return printJson({
            cert_path: leaf.certPath,
            key_path: leaf.keyPath,
            uris: leaf.uris,
            spki_sha256: leaf.spkiSha256,
          });
        print(
          `wrote ${leaf.certPath} (leaf only; the CA is in the CA bundle)`,
          `wrote ${leaf.keyPath} (mode 0600)`,
          ...leaf.uris.map((uri) => `URI SAN: ${uri}`),
          `SPKI sha256: ${leaf.spkiSha256}`,
        );
      },
    );

  pki
    .command('inspect')
    .description('describe the certificate(s) in a PEM (one or more) or DER file')
    .argument('<file>', 'certificate file')
    .option('--json', 'print a JSON array, one object per certificate', false)
    .action(async (file: string, opts: { json: boolean }) => {
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new PkiError('PKI_FILE_UNREADABLE', `cannot read ${file} (${code})`);
      }
      let infos: ReturnType<typeof inspectCertificates>;
      try {
        infos = inspectCertificates(data);
      } catch (error) {
        if (error instanceof PkiError) throw new PkiError(error.code, `${file}: ${error.detail}`);
        throw error;
      }
      process.stdout.write(opts.json ? `${JSON.stringify(infos, null, 2)}\n` : formatInspection(infos));
    });

  pki
    .command('dev')
    .description(
      'create a development PKI in OUT: a CA (reused if OUT/ca.key exists) and one certificate per node with ' +
        'spiffe://TRUST-DOMAIN/node/NAME, localhost, 127.0.0.1 and ::1',
    )
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .requiredOption('--nodes <names>', 'comma-separated node names, e.g. a,b,c', parseNodeList)
    .option('--trust-domain <domain>', 'SPIFFE trust domain', DEFAULT_TRUST_DOMAIN)
    .addOption(algoOption())
    .addOption(daysOption(DEFAULT_LEAF_DAYS, 'lifetime of the node certificates in days'))
    .option(
      '--json',
      'print JSON: {ca_cert_path, ca_key_path, ca_reused, nodes:[{name, uri, cert_path, key_path, spki_sha256}]}',
    )
    .action(
      async (opts: {
        out: string;
        nodes: string[];
        trustDomain: string;
        algo: KeyAlgo;
        days: number;
        json?: boolean;
      }) => {
        const result = await createDevPki(opts);
        if (opts.json)
          return printJson({
            ca_cert_path: result.caCertPath,
            ca_key_path: result.caKeyPath,
            ca_reused: result.caReused,
            nodes: result.nodes.map((node) => ({
              name: node.name,
              uri: node.uri,
              cert_path: node.certPath,
              key_path: node.keyPath,
              spki_sha256: node.spkiSha256,
            })),
          });
        const lines = result.caReused
          ? [`reused the CA in ${result.caCertPath}`]
          : [`wrote ${result.caCertPath}`, `wrote ${result.caKeyPath} (mode 0600)`];
        for (const node of result.nodes) {
          lines.push(
            `node ${node.name}: URI SAN ${node.uri}`,
            `  wrote ${node.certPath} (leaf only; the CA is in the CA bundle)`,
            `  wrote ${node.keyPath} (mode 0600)`,
            `  SPKI sha256: ${node.spkiSha256}`,
          );
        }
        print(...lines);
      },
    );

  pki
    .command('crl')
    .description(
      'issue a CRL signed by the CA, revoking the given certificate files and/or serials; write it where nodes read ' +
        "TESSERA_TLS_CRL_PATH (written atomically: a watching node reloads it and closes revoked peers' connections)",
    )
    .requiredOption('--ca-dir <dir>', 'directory holding ca.crt and ca.key')
    .requiredOption('--out <file>', 'CRL file to write (PEM unless --der)')
    .option(
      '--revoke <cert-file...>',
      'certificate file(s) to revoke (PEM or DER; must be issued by this CA)',
    )
    .option('--serial <hex...>', 'serial(s) to revoke, hex (colons allowed)')
    .option('--merge', 'also keep every serial the CRL already at --out revokes', false)
    .addOption(
      new Option(
        '--next-update <when>',
        "when the next CRL is due: a duration from now (`12h`, `7d`) or an ISO 8601 date-time; past it nodes refuse this CA's peers (TESSERA_TLS_CRL_STALE=fail)",
      )
        .argParser(parseNextUpdate)
        .default(undefined, '7d'),
    )
    .option('--der', 'write DER instead of PEM', false)
    .option('--json', 'print JSON: {crl_path, issuer, this_update, next_update, revoked_serials}')
    .action(
      async (opts: {
        caDir: string;
        out: string;
        revoke?: string[];
        serial?: string[];
        merge: boolean;
        nextUpdate?: Date;
        der: boolean;
        json?: boolean;
      }) => {
        const crl = await issueCrl({
          caDir: opts.caDir,
          outPath: opts.out,
          certFiles: opts.revoke ?? [],
          serials: opts.serial ?? [],
          merge: opts.merge,
          der: opts.der,
          ...(opts.nextUpdate ? { nextUpdate: opts.nextUpdate } : {}),
        });
        if (opts.json)
          return printJson({
            crl_path: crl.path,
            issuer: crl.issuer,
            this_update: crl.thisUpdate.toISOString(),
            next_update: crl.nextUpdate.toISOString(),
            revoked_serials: crl.serials,
          });
        print(
          `wrote ${crl.path} (CRL of ${crl.issuer})`,
          `revoked serials: ${crl.serials.length > 0 ? crl.serials.join(', ') : 'none'}`,
          `next update due ${crl.nextUpdate.toISOString()}: publish a newer CRL before then`,
        );
      },
    );

  return pki;
}

/** `12h`, `7d` (from now), or an ISO 8601 date-time (a past one makes a stale CRL, e.g. to test the policy). */
function parseNextUpdate(value: string): Date {
  const relative = /^([0-9]{1,5})([hd])$/.exec(value);
  if (relative) {
    const ms = Number(relative[1]) * (relative[2] === 'h' ? 3_600_000 : 86_400_000);
    if (ms > 0) return new Date(Date.now() + ms);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) {
    return new Date(value);
  }
  throw new InvalidArgumentError(
    '--next-update must be a duration from now (`12h`, `7d`) or an ISO 8601 date-time (2026-12-31T00:00:00Z).',
  );
}

function algoOption(): Option {
  return new Option('--algo <algo>', 'key algorithm').choices(KEY_ALGOS).default(DEFAULT_KEY_ALGO);
}

function daysOption(defaultDays: number, description = 'lifetime in days'): Option {
  return new Option('--days <n>', description).argParser(parseDays).default(defaultDays);
}

/** Strict: "0", "-1", "abc", "1.5", "1e3" and " 7" are all refused (Number() would accept some). */
function parseDays(value: string): number {
  const days = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new InvalidArgumentError(`--days must be a whole number of days from 1 to ${MAX_DAYS}.`);
  }
  return days;
}

function parseNodeList(value: string): string[] {
  return value.split(',').map((name) => name.trim());
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function print(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}
