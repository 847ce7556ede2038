/**
 * `npm run freshness`: how long after a change in Clerk a query shows it, in the zero-config start (`npm start`:
 * `src/dev.ts`, the embedded emulator at 200 ms latency, its webhooks delivered to /webhooks/clerk).
 *
 * Each round adds a member through the Clerk SDK, then queries every 20 ms until the member appears. Reported:
 * from the write's start, and from Clerk acknowledging the write (the SDK call returning). Exits non-zero when a
 * change was not visible within 10 s.
 *
 *   npm run freshness                 10 rounds
 *   npm run freshness -- --rounds 3   (the smoke test runs 2)
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { percentile } from './lib/percentile.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } }, strict: true });
const ROUNDS = Math.max(1, Number(values.rounds) || 10);
/** A change not visible after this long counts as lost. */
const VISIBLE_WITHIN_MS = 10_000;

/** What the zero-config start prints: the GraphiQL URL, the emulator's URL and secret key, the demo token. */
export function parseBanner(output: string) {
  const graphql = /GraphiQL:\s+(\S+)/.exec(output)?.[1];
  const emulator = /Emulator:\s+(\S+) \(secret key (\S+),/.exec(output);
  // The token stands alone on the line after "Demo token (…):".
  const token = /Demo token[^\n]*:\n\s*(\S+)/.exec(output)?.[1];
  return graphql && emulator?.[1] && emulator[2] && token
    ? { graphql, emulator: emulator[1], secretKey: emulator[2], token }
    : undefined;
}

async function main() {
  // Zero-config: no Clerk key (the embedded emulator), free ports for the server and the emulator.
  const { CLERK_SECRET_KEY: _key, ...environment } = process.env;
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/dev.ts'], {
    env: {
      ...environment,
      PORT: '0',
      ADMIN_PORT: '0',
      HOST: '127.0.0.1',
      CLERK_EMULATOR_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => server.kill('SIGTERM'));
  let output = '';
  const banner = await new Promise<NonNullable<ReturnType<typeof parseBanner>>>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const parsed = parseBanner(output);
      if (parsed) resolve(parsed);
    });
  });
  const claims = JSON.parse(Buffer.from(banner.token.split('.')[1] ?? '', 'base64url').toString()) as {
    o: { id: string };
  };
  const organizationId = claims.o.id;
  const clerk = createClerkClient({
    secretKey: banner.secretKey,
    apiUrl: banner.emulator,
    telemetry: { disabled: true },
  });

  const query = async () => {
    const response = await fetch(banner.graphql, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${banner.token}` },
      body: JSON.stringify({
        query: `{ organization(id: "${organizationId}") { members(limit: 500) { fromCache members { userId } } } }`,
      }),
    });
    const body = (await response.json()) as {
      data?: { organization: { members: { fromCache: boolean; members: { userId: string }[] } } };
      errors?: unknown[];
    };
    if (!body.data) throw new Error(`query failed: ${JSON.stringify(body.errors)}`);
    return body.data.organization.members;
  };

  await query(); // warm
  const fromWrite: number[] = [];
  const fromAck: number[] = [];
  let hitsWhenVisible = 0;
  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // The emulator's control API makes the user (Clerk's user creation is not ours to exercise); the membership
    // goes through Clerk's API, so its webhook is Clerk's own.
    const created = await fetch(`${banner.emulator}/__emulator/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email_address: `fresh.${round}.${Date.now()}@acme.test`, first_name: 'Fresh' }),
    });
    const user = (await created.json()) as { id: string };
    const start = performance.now();
    await clerk.organizations.createOrganizationMembership({
      organizationId,
      userId: user.id,
      role: 'org:member',
    });
    const acknowledged = performance.now();
    let seen = false;
    while (!seen && performance.now() - start < VISIBLE_WITHIN_MS) {
      const page = await query();
      if (page.members.some((member) => member.userId === user.id)) {
        seen = true;
        const at = performance.now();
        fromWrite.push(at - start);
        fromAck.push(at - acknowledged);
        if (page.fromCache) hitsWhenVisible++;
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!seen) lost++;
    // Let refresh-ahead finish so rounds do not overlap.
    await new Promise((resolve) => setTimeout(resolve, 600));
  }
  server.kill('SIGTERM');

  const ms = (list: number[], p: number) =>
    list.length
      ? `${percentile(
          [...list].sort((a, b) => a - b),
          p,
        ).toFixed(0)} ms`
      : '–';
  console.log(`| measured over ${fromWrite.length} writes | p50 | p90 | max |`);
  console.log('|---|---|---|---|');
  console.log(
    `| from the SDK write's start | ${ms(fromWrite, 50)} | ${ms(fromWrite, 90)} | ${ms(fromWrite, 100)} |`,
  );
  console.log(
    `| from Clerk acknowledging the write | ${ms(fromAck, 50)} | ${ms(fromAck, 90)} | ${ms(fromAck, 100)} |`,
  );
  console.log(
    `\nThe change was first seen on a cache hit in ${hitsWhenVisible} of ${fromWrite.length} rounds.`,
  );
  if (lost > 0) {
    console.error(
      `freshness FAILED: ${lost} of ${ROUNDS} changes were not visible within ${VISIBLE_WITHIN_MS} ms`,
    );
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
