// File modes and owners of our TLS material, which start-up does not look at: a key readable by the group or
// others is an error, as are a certificate or key owned by another user than the node's, and a certificate
// or CA bundle others may write (they could change whom we claim to be or trust). Symlinks are followed:
// what counts is the file the node reads (a Kubernetes secret's `..data` target).
// One layout is accepted although it breaks both rules: a Kubernetes secret volume with `defaultMode: 0440`
// and the pod's `fsGroup`, i.e. files owned by root, mode 0440, whose group is one of the (non-root) node's
// own groups. Kubernetes cannot give the files to the node's user; its group is the pod's alone.
import { readFile, stat } from 'node:fs/promises';
import type { MaterialPaths } from '../../tls/material.ts';
import { type Finding, finding } from './finding.ts';

/** The user the files must belong to, and how to name it in a message. */
export interface ExpectedOwner {
  uid: number;
  /** The user's primary and supplementary groups (a pod's fsGroup is one). */
  gids: number[];
  who: string;
}

/** root:<one of the node's groups> 0440, the node not root: a Kubernetes secret volume (see above). */
function projectedSecret(info: { uid: number; gid: number; mode: number }, owner: ExpectedOwner | undefined) {
  return (
    owner !== undefined &&
    owner.uid !== 0 &&
    info.uid === 0 &&
    (info.mode & 0o777) === 0o440 &&
    owner.gids.includes(info.gid)
  );
}

export async function checkFiles(paths: MaterialPaths, owner: ExpectedOwner | undefined): Promise<Finding[]> {
  if (process.platform === 'win32') return [];
  const findings: Finding[] = [];
  const [cert, key, ca] = await Promise.all(
    [paths.certPath, paths.keyPath, paths.caPath].map((file) => stat(file).catch(() => undefined)),
  );
  // An unreadable file is reported by the material checks (TLS_FILE_UNREADABLE).
  if (key && (key.mode & 0o077) !== 0 && !projectedSecret(key, owner))
    findings.push(
      finding(
        'TLS_KEY_FILE_MODE',
        paths.keyPath,
        `private key ${paths.keyPath} has mode ${octal(key.mode)}: ${access(key.mode)}`,
      ),
    );
  for (const [info, file, what] of [
    [cert, paths.certPath, 'certificate'],
    [key, paths.keyPath, 'private key'],
  ] as const) {
    if (info && owner && info.uid !== owner.uid && !projectedSecret(info, owner))
      findings.push(
        finding(
          'TLS_FILE_OWNER',
          file,
          `${what} ${file} is owned by uid ${info.uid}, but the node runs as uid ${owner.uid} (${owner.who})`,
        ),
      );
  }
  for (const [info, file, what] of [
    [cert, paths.certPath, 'certificate'],
    [ca, paths.caPath, 'CA bundle'],
  ] as const) {
    if (info && (info.mode & 0o022) !== 0)
      findings.push(
        finding(
          'TLS_FILE_WRITABLE',
          file,
          `${what} ${file} has mode ${octal(info.mode)}: ${access(info.mode & 0o022)}`,
        ),
      );
  }
  return findings;
}

/**
 * Whose files these should be: the user of the running node when its PID file (TESSERA_PID_FILE) names a
 * live process (Linux: the owner of /proc/PID), else the user running doctor.
 */
export async function expectedOwner(pidFile: string | undefined): Promise<ExpectedOwner | undefined> {
  if (pidFile) {
    const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim();
    if (/^\d+$/.test(pid)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
      const ids = (field: string) =>
        (new RegExp(`^${field}:(.*)$`, 'm').exec(status ?? '')?.[1] ?? '')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
      // Real, effective, saved and filesystem ids: the effective ones decide access.
      const uid = ids('Uid')[1];
      if (uid !== undefined)
        return {
          uid,
          gids: [...ids('Gid').slice(1, 2), ...ids('Groups')],
          who: `the user of the running node, pid ${pid}`,
        };
    }
  }
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  return {
    uid,
    gids: [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])],
    who: 'the user running doctor',
  };
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** "readable by its group and others, writable by others", … */
function access(mode: number): string {
  const who = (bit: number) =>
    [mode & (bit << 3) ? 'its group' : '', mode & bit ? 'others' : ''].filter(Boolean).join(' and ');
  return [
    [4, 'readable'],
    [2, 'writable'],
    [1, 'executable'],
  ]
    .filter(([bit]) => who(bit as number))
    .map(([bit, can]) => `${can} by ${who(bit as number)}`)
    .join(', ');
}
