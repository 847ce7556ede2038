/**
 * `npm run freshness`: how long after a change in Clerk a query shows it, in the embedded default (`npm start`:
 * emulator at 200 ms latency, its webhooks delivered to /webhooks/clerk, refresh-ahead after 250 ms).
 *
 * Each round adds a member through the Clerk SDK, then queries every 20 ms until the member appears. Reported:
 * from the write's start, and from Clerk acknowledging the write (the SDK call returning).
 */
import { spawn } from 'node:child_process';
import { createClerkClient } from '@clerk/backend';

const ROUNDS = 10;

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

async function main() {
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CLERK_EMULATOR_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => server.kill('SIGTERM'));
  let output = '';
  const banner = await new Promise<{ graphql: string; emulator: string; token: string }>(
    (resolve, reject) => {
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      server.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const graphql = /GraphiQL:\s+(\S+)/.exec(output)?.[1];
        const emulator = /Emulator:\s+(\S+)/.exec(output)?.[1];
        const token = /valid 24 h\):\s+(\S+)/.exec(output)?.[1];
        if (graphql && emulator && token) resolve({ graphql, emulator, token });
      });
    },
  );
  const claims = JSON.parse(Buffer.from(banner.token.split('.')[1] ?? '', 'base64url').toString()) as {
    o: { id: string };
  };
  const organizationId = claims.o.id;
  const clerk = createClerkClient({
    secretKey: 'sk_test_emulator',
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
      data: { organization: { members: { fromCache: boolean; members: { userId: string }[] } } };
    };
    return body.data.organization.members;
  };

  await query(); // warm
  const fromWrite: number[] = [];
  const fromAck: number[] = [];
  let hitsWhenVisible = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const created = await fetch(`${banner.emulator}/__emulator/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email_address: `fresh.${round}.${Date.now()}@acme.test`, first_name: 'Fresh' }),
    });
    const { id: userId } = (await created.json()) as { id: string };
    const start = performance.now();
    await clerk.organizations.createOrganizationMembership({ organizationId, userId, role: 'org:member' });
    const acknowledged = performance.now();
    for (let polls = 0; polls < 500; polls++) {
      const page = await query();
      if (page.members.some((member) => member.userId === userId)) {
        const seen = performance.now();
        fromWrite.push(seen - start);
        fromAck.push(seen - acknowledged);
        if (page.fromCache) hitsWhenVisible++;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Let refresh-ahead finish so rounds do not overlap.
    await new Promise((resolve) => setTimeout(resolve, 600));
  }
  server.kill('SIGTERM');

  const ms = (values: number[], p: number) =>
    `${percentile(
      [...values].sort((a, b) => a - b),
      p,
    ).toFixed(0)} ms`;
  console.log(`| measured over ${fromWrite.length} writes | p50 | p90 | max |`);
  console.log('|---|---|---|---|');
  console.log(
    `| from the SDK write's start | ${ms(fromWrite, 0.5)} | ${ms(fromWrite, 0.9)} | ${ms(fromWrite, 1)} |`,
  );
  console.log(
    `| from Clerk acknowledging the write | ${ms(fromAck, 0.5)} | ${ms(fromAck, 0.9)} | ${ms(fromAck, 1)} |`,
  );
  console.log(
    `\nThe change was first seen on a cache hit in ${hitsWhenVisible} of ${fromWrite.length} rounds.`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
