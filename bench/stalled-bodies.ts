/**
 * The stalled-body attack of issue 19 (item 3), measured: N anonymous sockets each send a request's headers and
 * most of its body, then stall. Prints the server's RSS (VmRSS, /proc) before and with them all held open, and what
 * the sockets were answered. The server runs from the sources in production mode (no Clerk calls are made).
 *
 *   npx tsx bench/stalled-bodies.ts [webhook-forged|webhook-headerless|graphql] [sockets=1000]
 *
 * webhook-forged: Svix headers with a current timestamp and a made-up signature (what anyone can send), 1 MiB
 * declared; webhook-headerless: no Svix headers; graphql: POST /graphql, 100 KiB declared.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { freePort, startNode, stopAll, waitForHttp } from './lib/processes.js';
import { ROOT } from './lib/stack.js';

const mode = process.argv[2] ?? 'webhook-forged';
const sockets = Number(process.argv[3] ?? 1000);

const rssMb = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((each) => each.startsWith('VmRSS:'));
  return Math.round(Number(line?.split(/\s+/)[1]) / 1024);
};

/** Waits until RSS has not grown for `quietMs` (the server has taken in what it will), polling every 250 ms. */
async function settledRss(pid: number, quietMs = 3000, maxMs = 60_000) {
  let last = rssMb(pid);
  let stableSince = Date.now();
  const started = Date.now();
  while (Date.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = rssMb(pid);
    if (now > last + 1) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) break;
  }
  return rssMb(pid);
}

const port = await freePort();
const server = startNode({
  name: 'server',
  nodeArgs: ['--import', 'tsx'],
  script: 'src/main.ts',
  cwd: ROOT,
  env: {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    CLERK_SECRET_KEY: 'sk_test_stalled',
    CLERK_API_URL: 'http://127.0.0.1:9',
    CLERK_WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  },
});
const url = `http://127.0.0.1:${port}`;
await waitForHttp(`${url}/healthz`, server);
const pid = server.process.pid as number;
// Warm up the code paths once, so the baseline includes them.
await fetch(`${url}/graphql?query=%7B__typename%7D`);
const before = await settledRss(pid, 1000);

const declared = mode === 'graphql' ? 100 * 1024 : 1024 * 1024;
const sent = declared - 1;
const path = mode === 'graphql' ? '/graphql' : '/webhooks/clerk';
const svix =
  mode === 'webhook-forged'
    ? `svix-id: msg_x\r\nsvix-timestamp: ${Math.floor(Date.now() / 1000)}\r\nsvix-signature: v1,${randomBytes(32).toString('base64')}\r\n`
    : '';
const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n${svix}\r\n`;
const body = Buffer.alloc(sent, 0x20);

const answers = new Map<string, number>();
const open: Socket[] = [];
for (let i = 0; i < sockets; i++) {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let answered = false;
  socket.on('data', (chunk: Buffer) => {
    if (answered) return;
    answered = true;
    const status = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? '?';
    answers.set(status, (answers.get(status) ?? 0) + 1);
  });
  socket.write(head);
  socket.write(body);
  open.push(socket);
}
const held = await settledRss(pid);
const stillOpen = open.filter((socket) => !socket.destroyed && !socket.readableEnded).length;
console.log(
  JSON.stringify({
    mode,
    sockets,
    rssBeforeMb: before,
    rssHeldMb: held,
    addedMb: held - before,
    answers: Object.fromEntries(answers),
    unanswered: sockets - [...answers.values()].reduce((a, b) => a + b, 0),
    stillOpen,
  }),
);
for (const socket of open) socket.destroy();
await stopAll();
process.exit(0);
