import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { canonicalJson } from './canonical-json.js';
import { ConfigError, fsReason, SignatureError } from './errors.js';
import { restrictPrivateKeyFile } from './key-file-mode.js';
import type { Manifest, UnsignedManifest } from './manifest.js';

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
}

export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
  /** Where the key came from, for messages. */
  source: string;
}

/** Key id: first 16 hex chars of SHA-256 over the raw ed25519 public key. Stable across PEM re-encodings. */
export function keyIdOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new SignatureError('not an ed25519 public key');
  return createHash('sha256').update(Buffer.from(jwk.x, 'base64url')).digest('hex').slice(0, 16);
}

export function generateSigningKeyPair(): { keyId: string; privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Writes `<out>.key` (mode 0600) and `<out>.pub`; refuses to overwrite an existing private key. */
export async function writeKeyPair(
  out: string,
): Promise<{ keyId: string; privateKeyFile: string; publicKeyFile: string }> {
  const pair = generateSigningKeyPair();
  const privateKeyFile = `${out}.key`;
  const publicKeyFile = `${out}.pub`;
  try {
    await mkdir(dirname(out), { recursive: true });
  } catch (err) {
    // EEXIST here: a file sits where a directory of --out should be (`--out agent.yaml/k`).
    const why = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'is a file, not a directory' : fsReason(err);
    throw new ConfigError(`--out ${out}: ${dirname(out)} ${why}: choose another --out`, out);
  }
  try {
    await writeFile(privateKeyFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(
        `${privateKeyFile} already exists: choose another --out or remove it first`,
        privateKeyFile,
      );
    }
    throw new ConfigError(`--out ${out}: ${privateKeyFile} ${fsReason(err)}: choose another --out`, out);
  }
  try {
    await restrictPrivateKeyFile(privateKeyFile);
  } catch (err) {
    // Never leave a private key behind that others can read.
    await rm(privateKeyFile, { force: true });
    throw err;
  }
  try {
    await writeFile(publicKeyFile, pair.publicKeyPem, { mode: 0o644 });
  } catch (err) {
    throw new ConfigError(`--out ${out}: ${publicKeyFile} ${fsReason(err)}: choose another --out`, out);
  }
  return { keyId: pair.keyId, privateKeyFile, publicKeyFile };
}

export async function loadSigningKey(file: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read signing key ${file}: ${(err as Error).message}`,
      file,
      'signing.privateKeyFile',
      {
        cause: err,
      },
    );
  }
  try {
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${privateKey.asymmetricKeyType}`);
    return { keyId: keyIdOf(createPublicKey(privateKey)), privateKey };
  } catch (err) {
    throw new ConfigError(
      `${file} is not an ed25519 private key in PEM form (make one with: ferry keygen --out FILE)`,
      file,
      'signing.privateKeyFile',
      { cause: err },
    );
  }
}

export async function loadTrustedKeys(files: readonly string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const file of files) {
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read trusted public key ${file}: ${(err as Error).message}`,
        file,
        'trust.publicKeys',
        {
          cause: err,
        },
      );
    }
    // createPublicKey also accepts a private key (it derives the public half): a private key
    // copied to an agent would be used silently, so it is refused instead.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new ConfigError(
        `${file} is a PRIVATE key: an agent trusts public keys only (the .pub from ferry keygen); remove ${file} from this host and list the .pub in trust.publicKeys`,
        file,
        'trust.publicKeys',
      );
    }
    try {
      const publicKey = createPublicKey(pem);
      keys.push({ keyId: keyIdOf(publicKey), publicKey, source: file });
    } catch (err) {
      throw new ConfigError(`${file} is not an ed25519 public key in PEM form`, file, 'trust.publicKeys', {
        cause: err,
      });
    }
  }
  return keys;
}

function signedBytes(manifest: UnsignedManifest): Buffer {
  const { signature: _ignored, ...rest } = manifest as UnsignedManifest & { signature?: string };
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** Signs the canonical JSON of the manifest (without `signature`); sets `keyId` from the key. */
export function signManifest(manifest: Omit<UnsignedManifest, 'keyId'>, key: SigningKey): Manifest {
  const unsigned: UnsignedManifest = { ...manifest, keyId: key.keyId };
  const signature = sign(null, signedBytes(unsigned), key.privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** Throws `SignatureError` unless a trusted key with the manifest's key id verifies its signature. */
export function verifyManifest(manifest: Manifest, trusted: readonly TrustedKey[]): TrustedKey {
  const key = trusted.find((k) => k.keyId === manifest.keyId);
  if (!key) {
    throw new SignatureError(
      `manifest ${manifest.name}@${manifest.version} is signed by key ${manifest.keyId}, which is not in trust.publicKeys`,
      manifest.keyId,
    );
  }
  const ok = verify(null, signedBytes(manifest), key.publicKey, Buffer.from(manifest.signature, 'base64'));
  if (!ok) {
    throw new SignatureError(
      `manifest ${manifest.name}@${manifest.version}: signature does not verify with key ${key.keyId} (tampered or corrupted)`,
      key.keyId,
    );
  }
  return key;
}
