import { chmod, stat } from 'node:fs/promises';
import { ConfigError } from './errors.js';

/** Permission bits that let anyone but the owner read or change a file. */
const GROUP_OTHER = 0o077;

/**
 * Why a private key file's mode is unsafe, or undefined when only its owner can use it.
 * (POSIX modes only: on Windows every file reports 0o666, so nothing is said there.)
 */
export async function privateKeyModeProblem(file: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined;
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    // A missing key is reported by whoever loads it, with the config key that names it.
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!info) return undefined;
  const mode = info.mode & 0o777;
  if ((mode & GROUP_OTHER) === 0) return undefined;
  return `private key ${file} has mode ${mode.toString(8).padStart(4, '0')}: group or others can read it; run: chmod 600 ${file}`;
}

/**
 * Sets a freshly written private key to 0600 and checks that it stuck; throws otherwise (a
 * filesystem that ignores modes, such as some network or FAT mounts, leaves it readable by all).
 */
export async function restrictPrivateKeyFile(file: string): Promise<void> {
  await chmod(file, 0o600);
  const problem = await privateKeyModeProblem(file);
  if (problem) {
    throw new ConfigError(
      `${problem}; the filesystem did not keep mode 0600, write the key somewhere else (--out)`,
      file,
    );
  }
}
