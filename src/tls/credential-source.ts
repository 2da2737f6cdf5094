// Rule 5: one live, validated set of TLS material. The file-watch engine (file-watch.ts) says when to look
// again: a file event in the files' directories, a poll of the content hashes, or SIGHUP. Reloads are
// single-flight; new material must pass rule 1 and a loopback self-handshake before it replaces the old,
// all three files together. A failed reload keeps the last good material. Adapters follow 'change' through
// followCredentials (follow.ts).
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Clock, systemClock } from './clock.ts';
import { type CrlStalePolicy, crlFilesHash, loadCrls, readCrlFiles } from './crl.ts';
import { TlsError } from './errors.ts';
import { watchFiles } from './file-watch.ts';
import { defaultLogger, type Logger } from './logger.ts';
import {
  type Material,
  type MaterialFiles,
  type MaterialPaths,
  readMaterialFiles,
  type TlsRole,
  validateMaterial,
} from './material.ts';
import { createTlsMetrics, type TlsMetrics } from './metrics.ts';
import { selfHandshake } from './self-handshake.ts';

export interface CredentialSourceOptions extends MaterialPaths {
  /** The node's own entity URI; the leaf must carry it as a URI SAN. */
  entityUri?: string;
  /** Sides the material serves (which EKUs a leaf with an EKU extension needs); default both. */
  roles?: readonly TlsRole[];
  /** Content-hash poll interval; default 5000 ms; 0 disables polling. */
  pollIntervalMs?: number;
  /** Quiet time after the last file event before reloading; default 100 ms. */
  debounceMs?: number;
  /** Watch the files' directories with fs.watch; default true. */
  watch?: boolean;
  /** Reload on SIGHUP; default true. */
  sighup?: boolean;
  /**
   * Validity floor: material whose leaf has less than this left before notAfter is refused
   * (TLS_LIFETIME_TOO_SHORT): at start the source does not open, on reload the old material stays.
   * Default 0 (only an expired leaf is refused).
   */
  minRemainingLifetimeMs?: number;
  /**
   * CRL files or directories (PEM or DER), loaded and reloaded with the rest of the material; each must be
   * signed by a CA of the bundle (else TLS_CRL_ISSUER_UNKNOWN / TLS_CRL_SIGNATURE). Default none.
   */
  crlPaths?: readonly string[];
  /** A peer whose issuer's CRL is past nextUpdate: refused (`fail`, default) or accepted with a warning (`warn`). */
  crlStale?: CrlStalePolicy;
  /** Run the loopback self-handshake before accepting material; default true. */
  selfHandshake?: boolean;
  clock?: Clock;
  logger?: Logger;
  /** Where reloads are counted (createTlsMetrics(registry)); default a private registry. */
  metrics?: TlsMetrics;
}

export type ReloadTrigger = 'start' | 'watch' | 'poll' | 'sighup' | 'manual';

export interface ReloadEvent {
  result: 'success' | 'failure' | 'unchanged';
  trigger: ReloadTrigger;
  /** Error code on failure (e.g. TLS_KEY_MISMATCH). */
  reason?: string;
  message?: string;
  fingerprint256: string;
}

export interface CredentialSourceEvents {
  change: [material: Material];
  reload: [event: ReloadEvent];
}

export class CredentialSource extends EventEmitter<CredentialSourceEvents> {
  #material: Material;
  #running: Promise<ReloadEvent> | undefined;
  #rerun: ReloadTrigger | undefined;
  #lastFailedHash: string | undefined;
  #stopWatching: (() => void) | undefined;
  #closed = false;
  readonly #options: CredentialSourceOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #metrics: TlsMetrics;

  private constructor(options: CredentialSourceOptions, material: Material) {
    super();
    this.#options = options;
    this.#material = material;
    this.#logger = options.logger ?? defaultLogger();
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics ?? createTlsMetrics();
  }

  /** Loads and validates the material; throws a TlsError (fail closed) when it is not usable. */
  static async open(options: CredentialSourceOptions): Promise<CredentialSource> {
    const clock = options.clock ?? systemClock;
    const material = await loadChecked(options, clock);
    const source = new CredentialSource(options, material);
    source.#metrics.reloads.inc({ result: 'success', reason: 'start' });
    source.#metrics.lastReloadSuccess.set(clock().getTime() / 1000);
    source.#startWatching();
    return source;
  }

  get material(): Material {
    return this.#material;
  }

  get paths(): MaterialPaths {
    return this.#material.paths;
  }

  /** Single-flight: a reload asked for while one runs makes that one run once more when it ends. */
  reload(trigger: ReloadTrigger = 'manual'): Promise<ReloadEvent> {
    if (this.#running) {
      this.#rerun = trigger;
      return this.#running;
    }
    this.#running = (async () => {
      let event = await this.#attempt(trigger);
      while (this.#rerun && !this.#closed) {
        const next = this.#rerun;
        this.#rerun = undefined;
        event = await this.#attempt(next);
      }
      return event;
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    this.#stopWatching?.();
  }

  async #attempt(trigger: ReloadTrigger): Promise<ReloadEvent> {
    const previous = this.#material.leaf.fingerprint256;
    let contentHash: string | undefined;
    try {
      const files = await readAllFiles(this.#options);
      contentHash = files.contentHash;
      if (files.contentHash === this.#material.contentHash)
        return this.#report({ result: 'unchanged', trigger, fingerprint256: previous });
      // A poll does not retry content that already failed; a file event, SIGHUP or manual call does.
      if (trigger === 'poll' && files.contentHash === this.#lastFailedHash) {
        return { result: 'unchanged', trigger, fingerprint256: previous };
      }
      const material = await validateAll(this.#options, files, this.#clock);
      if (this.#options.selfHandshake !== false)
        await selfHandshake(material, undefined, this.#options.roles);
      if (this.#closed) return { result: 'unchanged', trigger, fingerprint256: previous };
      this.#material = material;
      this.#lastFailedHash = undefined;
      this.#metrics.reloads.inc({ result: 'success', reason: trigger });
      this.#metrics.lastReloadSuccess.set(this.#clock().getTime() / 1000);
      this.emit('change', material);
      return this.#report({ result: 'success', trigger, fingerprint256: material.leaf.fingerprint256 });
    } catch (error) {
      const code = error instanceof TlsError ? error.code : 'TLS_RELOAD_ERROR';
      const message = error instanceof Error ? error.message : String(error);
      this.#lastFailedHash = contentHash;
      this.#metrics.reloads.inc({ result: 'failure', reason: code });
      return this.#report({ result: 'failure', trigger, reason: code, message, fingerprint256: previous });
    }
  }

  #report(event: ReloadEvent): ReloadEvent {
    if (event.result === 'failure') {
      this.#logger.warn(
        { event: 'tls_reload', ...event },
        'TLS reload failed; keeping the last good material',
      );
    } else if (event.result === 'success') {
      this.#logger.info({ event: 'tls_reload', ...event }, 'TLS material reloaded');
    }
    this.emit('reload', event);
    return event;
  }

  #startWatching(): void {
    const options = this.#options;
    this.#stopWatching = watchFiles({
      dirs: [
        ...[options.certPath, options.keyPath, options.caPath].map((p) => dirname(p)),
        ...crlWatchDirs(options.crlPaths ?? []),
      ],
      watch: options.watch !== false,
      pollMs: options.pollIntervalMs ?? 5000,
      debounceMs: options.debounceMs ?? 100,
      sighup: options.sighup !== false,
      onTrigger: (trigger) => {
        if (!this.#closed) void this.reload(trigger);
      },
      onWatchError: (dir, error) =>
        this.#logger.warn(
          { event: 'tls_watch_error', dir, error: error.message },
          'cannot watch the TLS directory; polling continues',
        ),
    });
  }
}

/** The three files plus the CRL files; the content hash covers them all, so a new CRL is a new version. */
async function readAllFiles(
  options: CredentialSourceOptions,
): Promise<MaterialFiles & { crls: Awaited<ReturnType<typeof readCrlFiles>> }> {
  const files = await readMaterialFiles(options);
  const crlPaths = options.crlPaths ?? [];
  if (crlPaths.length === 0) return { ...files, crls: [] };
  const crls = await readCrlFiles(crlPaths);
  const contentHash = createHash('sha256').update(files.contentHash).update(crlFilesHash(crls)).digest('hex');
  return { ...files, contentHash, crls };
}

/** Rule 1, the lifetime floor, then every CRL verified against the new bundle (validate before swap). */
async function validateAll(
  options: CredentialSourceOptions,
  files: Awaited<ReturnType<typeof readAllFiles>>,
  clock: Clock,
): Promise<Material> {
  const { crls: crlFiles, ...pem } = files;
  const material = validateMaterial(options, pem, {
    entityUri: options.entityUri,
    clock,
    ...(options.roles ? { roles: options.roles } : {}),
  });
  checkLifetimeFloor(material, options, clock);
  return {
    ...material,
    crls: await loadCrls(crlFiles, material.cas),
    crlStale: options.crlStale ?? 'fail',
  };
}

/** A CRL path that is a directory is watched itself; a file, through its directory. */
function crlWatchDirs(paths: readonly string[]): string[] {
  return paths.map((path) => {
    try {
      return statSync(path).isDirectory() ? path : dirname(path);
    } catch {
      return dirname(path);
    }
  });
}

async function loadChecked(options: CredentialSourceOptions, clock: Clock): Promise<Material> {
  const material = await validateAll(options, await readAllFiles(options), clock);
  if (options.selfHandshake !== false) await selfHandshake(material, undefined, options.roles);
  return material;
}

// A certificate renewed by an issuer that is itself failing can arrive with minutes left: swapping it in
// would trade a working certificate for one about to break every connection.
/** TLS_LIFETIME_TOO_SHORT when the leaf has less than the floor left (also what `tessera doctor` reports). */
export function checkLifetimeFloor(
  material: { leaf: Material['leaf'] },
  options: Pick<CredentialSourceOptions, 'certPath' | 'minRemainingLifetimeMs'>,
  clock: Clock,
): void {
  const floorMs = options.minRemainingLifetimeMs ?? 0;
  if (floorMs <= 0) return;
  const leftMs = material.leaf.notAfter.getTime() - clock().getTime();
  if (leftMs < floorMs)
    throw new TlsError(
      'TLS_LIFETIME_TOO_SHORT',
      `certificate ${material.leaf.subject} in ${options.certPath} has ${formatSpan(leftMs)} left (until ${material.leaf.notAfter.toISOString()}), less than the minimum remaining lifetime of ${formatSpan(floorMs)}`,
      options.certPath,
    );
}

function formatSpan(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} d`;
}
