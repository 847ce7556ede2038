/**
 * The peers of the cache-hit scenario (bench/peer-server.mjs): other servers answering the same team page query
 * with the same data, held in memory, started with the server's Node flags like the ceiling.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, freePort, startNode, waitForHttp } from './processes.js';
import type { Launch } from './stack.js';
import { ROOT } from './stack.js';

export type Peer = 'mercurius' | 'apollo' | 'prepared';

/** Starts one peer serving `answer` (our server's JSON answer for the page); resolves when it answers. */
export async function startPeer(
  launch: Launch,
  peer: Peer,
  answer: string,
  tempDir: string,
): Promise<{ child: Child; url: string }> {
  const pageFile = join(tempDir, `${peer}-page.json`);
  writeFileSync(pageFile, answer);
  const port = await freePort();
  const child = startNode({
    name: peer,
    nodeArgs: launch.nodeArgs,
    script: 'bench/peer-server.mjs',
    env: { NODE_ENV: 'production', PEER: peer, PORT: String(port), HOST: '127.0.0.1', PAGE_FILE: pageFile },
    cwd: ROOT,
    echo: launch.echo,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(peer === 'apollo' ? `${url}/?query=%7B__typename%7D` : `${url}/health`, child);
  return { child, url };
}
