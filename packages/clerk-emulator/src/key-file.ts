/**
 * A signing key kept in a file, for development setups: tokens handed out before a restart (a demo token pasted
 * into GraphiQL, a frontend's `.env`) keep verifying after it. The file holds a PKCS#8 PEM private key; it is
 * created on first use, readable by its owner only. Never point this at a key that signs anything real.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { newSigningKey } from './tokens.js';

/** Reads the PEM in `path`, or generates a key and writes it there first. */
export async function loadOrCreateSigningKeyPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKeyPem } = await newSigningKey();
  await mkdir(dirname(path), { recursive: true });
  // 'wx': if another process created the file meanwhile, keep theirs.
  await writeFile(path, privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return readFile(path, 'utf8');
}
