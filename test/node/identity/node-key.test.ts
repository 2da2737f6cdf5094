// The node key on real files: created 0600 in a 0700 directory and reused on restart, read from a seed or
// a PEM file, and every bad input refused with a typed code and without echoing key material.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  loadOrCreateNodeKey,
  NODE_KEY_FILE,
  NodeKeyError,
} from '../../../src/node/features/identity/node-key.ts';
import { tempDir } from '../../support/pki.ts';

// RFC 8032 §7.1, test 1: a seed and the public key it must give.
const RFC8032_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const RFC8032_PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');

async function rejects(promise: Promise<unknown>, code: string): Promise<NodeKeyError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NodeKeyError, `expected NodeKeyError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

describe('loadOrCreateNodeKey', () => {
  test('first start creates <dataDir>/node-key.pem 0600 (dir 0700); a restart reuses it', async (t) => {
    const dataDir = join(await tempDir(t), 'fresh', 'data');
    const first = await loadOrCreateNodeKey({ dataDir });
    assert.equal(first.source, 'created');
    const path = join(dataDir, NODE_KEY_FILE);
    assert.equal(first.path, path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(dataDir), [NODE_KEY_FILE], 'no temp file left behind');

    const raw = Buffer.from(first.publicKeyB64, 'base64url');
    assert.equal(raw.length, 32);
    const hex = createHash('sha256').update(raw).digest('hex');
    assert.equal(first.keyId, hex.slice(0, 16));
    assert.equal(first.fingerprint, `sha256:${hex}`);
    const signature = sign(null, Buffer.from('hello'), first.privateKey);
    assert.ok(verify(null, Buffer.from('hello'), first.publicKey, signature));

    const again = await loadOrCreateNodeKey({ dataDir });
    assert.equal(again.source, 'data-dir');
    assert.equal(again.keyId, first.keyId);
    assert.equal(again.publicKeyB64, first.publicKeyB64);
  });

  test('two processes starting at once agree on one key', async (t) => {
    const dataDir = await tempDir(t);
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateNodeKey({ dataDir })));
    assert.equal(new Set(keys.map((k) => k.keyId)).size, 1);
    assert.equal(keys.filter((k) => k.source === 'created').length, 1);
    assert.deepEqual(await readdir(dataDir), [NODE_KEY_FILE]);
  });

  test('a base64url seed gives the RFC 8032 public key and writes nothing', async (t) => {
    const dataDir = await tempDir(t);
    const key = await loadOrCreateNodeKey({ dataDir, privateKeyB64: RFC8032_SEED.toString('base64url') });
    assert.equal(key.source, 'seed');
    assert.equal(key.publicKeyB64, RFC8032_PUBLIC.toString('base64url'));
    assert.equal(key.path, undefined);
    assert.deepEqual(await readdir(dataDir), []);
  });

  test('a PKCS#8 PEM file given by path is used as is', async (t) => {
    const dir = await tempDir(t);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyPath = join(dir, 'my-node.pem');
    await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const key = await loadOrCreateNodeKey({ dataDir: join(dir, 'data'), keyPath });
    assert.equal(key.source, 'file');
    assert.equal(key.path, keyPath);
    assert.equal(key.publicKeyB64, publicKey.export({ format: 'jwk' }).x);
    assert.deepEqual(await readdir(dir), ['my-node.pem'], 'no data-dir key was created');
  });

  test('a bad seed → NODE_KEY_INVALID, and the message never contains the seed', async (t) => {
    const dataDir = await tempDir(t);
    const bad = [
      RFC8032_SEED.subarray(0, 31).toString('base64url'), // 31 bytes
      Buffer.concat([RFC8032_SEED, RFC8032_SEED]).toString('base64url'), // 64 bytes
      `${RFC8032_SEED.toString('base64url').slice(0, 42)}!`, // not base64url
      RFC8032_SEED.toString('hex'), // hex, not base64url
    ];
    for (const seed of bad) {
      const error = await rejects(loadOrCreateNodeKey({ dataDir, privateKeyB64: seed }), 'NODE_KEY_INVALID');
      assert.match(error.message, /TESSERA_NODE_PRIVATE_KEY/);
      assert.ok(!error.message.includes(seed), 'seed echoed in the error');
      assert.ok(!String(error.stack).includes(seed), 'seed echoed in the stack');
    }
  });

  test('a bad PEM → NODE_KEY_INVALID naming the file, never its content; a non-Ed25519 key is refused', async (t) => {
    const dir = await tempDir(t);
    const garbage = join(dir, 'garbage.pem');
    const secretish = 'MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g';
    await writeFile(
      garbage,
      `-----BEGIN PRIVATE KEY-----\n${secretish.slice(0, 40)}\n-----END PRIVATE KEY-----\n`,
      {
        mode: 0o600,
      },
    );
    const error = await rejects(loadOrCreateNodeKey({ dataDir: dir, keyPath: garbage }), 'NODE_KEY_INVALID');
    assert.match(error.message, /garbage\.pem/);
    assert.ok(!error.message.includes(secretish.slice(0, 40)));
    assert.equal(error.file, garbage);

    const p256 = join(dir, 'p256.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(p256, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const wrongType = await rejects(loadOrCreateNodeKey({ dataDir: dir, keyPath: p256 }), 'NODE_KEY_INVALID');
    assert.match(wrongType.message, /ec key; the node key must be Ed25519/);
  });

  test('a key file readable by group or others is refused, like ssh does', async (t) => {
    const dir = await tempDir(t);
    const keyPath = join(dir, 'node.pem');
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    for (const mode of [0o640, 0o604, 0o660]) {
      await chmod(keyPath, mode);
      const error = await rejects(loadOrCreateNodeKey({ dataDir: dir, keyPath }), 'NODE_KEY_PERMISSIONS');
      assert.match(error.message, new RegExp(`mode 0${mode.toString(8)}`));
      assert.match(error.message, /chmod 600/);
    }
    // The data-dir key is held to the same rule.
    const dataDir = join(dir, 'data');
    await loadOrCreateNodeKey({ dataDir });
    await chmod(join(dataDir, NODE_KEY_FILE), 0o644);
    await rejects(loadOrCreateNodeKey({ dataDir }), 'NODE_KEY_PERMISSIONS');
  });

  test('a missing key file → NODE_KEY_UNREADABLE; seed and file together → NODE_KEY_CONFLICT', async (t) => {
    const dir = await tempDir(t);
    const missing = join(dir, 'nope.pem');
    const error = await rejects(
      loadOrCreateNodeKey({ dataDir: dir, keyPath: missing }),
      'NODE_KEY_UNREADABLE',
    );
    assert.match(error.message, /nope\.pem \(ENOENT\)/);
    const seed = RFC8032_SEED.toString('base64url');
    const conflict = await rejects(
      loadOrCreateNodeKey({ dataDir: dir, keyPath: missing, privateKeyB64: seed }),
      'NODE_KEY_CONFLICT',
    );
    assert.ok(!conflict.message.includes(seed));
  });
});
