/**
 * `npm run cluster`: three Redis-backed replicas on your machine, to watch them share. Starts a Redis (redis-server
 * on a free port, or REDIS_URL if set), the Clerk emulator with demo data (its webhooks go to replica A only), and
 * three replicas on consecutive ports from PORT (default 4000), then prints their URLs, a demo token and a curl that
 * changes the team: query B or C before and after it.
 */
import { startReplicaCluster } from './lib/cluster.js';

const DEMO_TOKEN_LIFETIME_S = 24 * 60 * 60;

async function main() {
  const basePort = Number(process.env.PORT ?? 4000);
  const cluster = await startReplicaCluster({
    replicas: 3,
    basePort,
    logLevel: process.env.LOG_LEVEL ?? 'info',
    echo: true,
  });
  const { emulator } = cluster;
  const demo = emulator.demo;
  const adminId = demo?.acme.adminUserIds[0];
  if (!demo || !adminId) throw new Error('the demo seed has no acme admin');
  const token = emulator.mintToken({
    userId: adminId,
    orgId: demo.acme.organizationId,
    expiresInS: DEMO_TOKEN_LIFETIME_S,
  });
  const query = `{"query":"{ organization(id: \\"${demo.acme.organizationId}\\") { members(limit: 3) { fromCache totalCount members { email role } } } }"}`;
  const [a, b, c] = cluster.replicas;
  process.stdout.write(
    [
      '',
      '================================================================================',
      `  Redis:     ${cluster.redisUrl}${cluster.redis ? ' (started here, persistence off)' : ' (REDIS_URL)'}`,
      `  Emulator:  ${emulator.url} (webhooks to replica A only)`,
      ...cluster.replicas.map(
        (replica) =>
          `  Replica ${replica.name}: ${replica.url}/graphql   metrics: ${replica.adminUrl}/metrics`,
      ),
      `  Demo token (acme admin, 24 h): ${token}`,
      '',
      `  Query C:   curl -s ${c?.url}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${token}' -d '${query}'`,
      `  Change the team (the webhook goes to A):`,
      `  curl -s -X POST ${emulator.url}/v1/organizations/${demo.acme.slug}/memberships -H 'Authorization: Bearer ${emulator.secretKey}' -H 'Content-Type: application/json' -d '{"user_id":"${demo.outsiderUserId}","role":"org:member"}'`,
      `  then query B (${b?.url}) or C again: the new member is there. A: ${a?.url}`,
      '  Ctrl-C stops everything.',
      '================================================================================',
      '',
    ].join('\n'),
  );
  const stop = () => void cluster.stop().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `cluster failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
