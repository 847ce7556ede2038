/**
 * Traces (issue 22, item 5) from a real process (`src/main.ts` through tsx) to a real OTLP/HTTP receiver started
 * here (test/helpers/otlp-receiver.ts, `http/json`), against the emulator. Each request carries its own W3C
 * `traceparent`, so its spans are found by trace ID. The batch delay (OTEL_BSP_SCHEDULE_DELAY) is set far longer
 * than the test: every span the receiver holds was sent by the SIGTERM's flush, which the setup waits for (exit 0).
 * Then each case reads the spans of its own requests, in any order.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createClerkClient } from '@clerk/backend';
import { type ClerkEmulator, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SeededTeam, seedTeam } from './helpers/fixtures.js';
import { queryGraphQL } from './helpers/harness.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './helpers/otlp-receiver.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const TEAM_PAGE = `query TeamPage($id: ID!, $includePending: Boolean) {
  organization(id: $id) { members(limit: 5, includePending: $includePending) {
    totalCount members { userId email role } pendingInvitations { id email } } } }`;
const TEAM_SIZE = 'query TeamSize($id: ID!) { organization(id: $id) { members(limit: 1) { totalCount } } }';
const INVITE = `mutation Invite($id: ID!, $email: String!) {
  inviteMembers(organizationId: $id, invitations: [{ email: $email, role: "org:member" }]) { results { errorCode invitation { id } } } }`;

/** A new W3C traceparent, sampled: its trace ID names the request's spans, its span ID is their remote parent. */
function traceparent() {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `src/main.ts` against the emulator with these OTEL_* settings; resolves once it listens. */
async function startServer(
  emulator: ClerkEmulator,
  webhookSecret: string,
  otel: Record<string, string>,
): Promise<Server> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(CLERK_|CACHE_|WEBHOOK_|REDIS_|ADMIN_|SHUTDOWN_|OTEL_|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$)/.test(key))
      continue;
    env[key] = value;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...env,
      NODE_ENV: 'production',
      PORT: '0',
      ADMIN_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CLERK_SECRET_KEY: emulator.secretKey,
      CLERK_API_URL: emulator.url,
      CLERK_JWT_KEY: emulator.publicKeyPem,
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
      SHUTDOWN_DELAY_MS: '0',
      ...otel,
    },
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'server listening') resolve(parsed);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  expect(listening.traces).toBe(new URL(otel.OTEL_EXPORTER_OTLP_ENDPOINT as string).origin);
  const url = String(listening.url)
    .replace(/\/graphql$/, '')
    .replace('localhost', '127.0.0.1');
  return { child, url, exited };
}

let emulator: ClerkEmulator;
let traced: OtlpReceiver;
let sampledOff: OtlpReceiver;
let team: SeededTeam;
let otherTeam: SeededTeam;
const tokens: string[] = [];
/** Trace IDs of the requests each case reads. */
const traces: Record<string, string> = {};
const parents: Record<string, string> = {};
let webhookMarker = '';
let exitCodes: (number | null)[] = [];

beforeAll(async () => {
  emulator = await startClerkEmulator({ seed: 'empty' });
  [traced, sampledOff] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  team = seedTeam(emulator, {
    name: 'Traced Co',
    admins: 1,
    members: 3,
    invitations: ['pending@traced.test'],
  });
  otherTeam = seedTeam(emulator, { name: 'Unsampled Co', admins: 1, members: 2 });
  const otel = (receiver: OtlpReceiver, extra: Record<string, string> = {}) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'team-graphql-test',
    // Far longer than the test: spans reach the receiver only through the SIGTERM's flush.
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    ...extra,
  });
  const [server, unsampled] = await Promise.all([
    startServer(emulator, webhookSecret, otel(traced)),
    startServer(emulator, webhookSecret, otel(sampledOff, { OTEL_TRACES_SAMPLER: 'always_off' })),
  ]);
  emulator.control.addWebhookEndpoint({ url: `${server.url}/webhooks/clerk`, secret: webhookSecret });

  const admin = team.admin.token;
  tokens.push(admin, otherTeam.admin.token);
  const send = async (
    name: string,
    url: string,
    query: string,
    variables: Record<string, unknown>,
    token = admin,
  ) => {
    const trace = traceparent();
    traces[name] = trace.traceId;
    parents[name] = trace.parentId;
    const answer = await queryGraphQL(url, query, {
      token,
      variables,
      headers: { traceparent: trace.header },
    });
    expect(answer.errors, name).toBeUndefined();
    return answer;
  };
  const page = { id: team.organizationId, includePending: true };
  // A cold team page: the roster and the caller's membership list are read from Clerk.
  await send('cold', server.url, TEAM_PAGE, page);
  // The same request again, answered by Yoga from the cache (a cold page's answer is not kept), and kept…
  await send('warm', server.url, TEAM_PAGE, page);
  // …so the fast path replays it the third time.
  await send('replay', server.url, TEAM_PAGE, page);
  // Another query of the now cached team: through Yoga (nothing prepared for it), every read a hit.
  await send('hit', server.url, TEAM_SIZE, { id: team.organizationId });
  // A team action: an invitation (an email in the variables, which no span may carry).
  await send('action', server.url, INVITE, { id: team.organizationId, email: 'invitee@traced.test' });
  // A webhook: Clerk's own delivery of a role change (no traceparent: a new trace).
  await createClerkClient({
    secretKey: emulator.secretKey,
    apiUrl: emulator.url,
  }).organizations.updateOrganizationMembership({
    organizationId: team.organizationId,
    userId: team.memberIds[0] as string,
    role: 'org:admin',
  });
  await emulator.control.webhooksSettled();
  webhookMarker = team.organizationId;
  // Sampling off: a sampled traceparent, and still no span.
  await send('off', unsampled.url, TEAM_PAGE, { id: otherTeam.organizationId }, otherTeam.admin.token);
  await send('off-again', unsampled.url, TEAM_PAGE, { id: otherTeam.organizationId }, otherTeam.admin.token);

  server.child.kill('SIGTERM');
  unsampled.child.kill('SIGTERM');
  exitCodes = await Promise.all([server.exited, unsampled.exited]);
}, 60_000);

afterAll(async () => {
  await Promise.all([traced?.close(), sampledOff?.close(), emulator?.close()]);
});

const spansOf = (name: string) => traced.spans.filter((span) => span.traceId === traces[name]);
const one = (spans: ReceivedSpan[], name: string | RegExp) => {
  const found = spans.filter((span) =>
    typeof name === 'string' ? span.name === name : name.test(span.name),
  );
  expect(
    found.map((span) => span.name),
    `one span ${name} in ${spans.map((s) => s.name).join(', ')}`,
  ).toHaveLength(1);
  return found[0] as ReceivedSpan;
};
/** Whether `span` descends from `ancestor` within `spans`. */
const under = (spans: ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean => {
  const parent = spans.find((each) => each.spanId === span.parentSpanId);
  return parent !== undefined && (parent.spanId === ancestor.spanId || under(spans, parent, ancestor));
};
const cacheOutcomes = (span: ReceivedSpan) =>
  span.events
    .filter((event) => event.name === 'cache.read')
    .map((event) => `${event.attributes['team.cache.part']} ${event.attributes['team.cache.outcome']}`);

describe('traces over OTLP/HTTP (http/json), flushed on SIGTERM', () => {
  it('the traced process exported its spans on SIGTERM and exited 0', () => {
    expect(exitCodes).toEqual([0, 0]);
    expect(traced.rejected).toEqual([]);
    expect(traced.requests).toBeGreaterThan(0);
    expect(new Set(traced.spans.map((span) => span.resource['service.name']))).toEqual(
      new Set(['team-graphql-test']),
    );
  });

  it('a cold team page: HTTP (continuing the traceparent) → GraphQL operation → cache misses → Clerk client spans', () => {
    const spans = spansOf('cold');
    const http = one(spans, 'POST /graphql');
    expect(http.kind).toBe(SERVER);
    expect(http.parentSpanId).toBe(parents.cold);
    expect(http.attributes).toMatchObject({ 'http.route': '/graphql', 'http.response.status_code': 200 });

    const replay = one(spans, 'graphql.replay');
    expect(replay.parentSpanId).toBe(http.spanId);
    expect(replay.attributes['team.fast_path.outcome']).toBe('miss');

    const operation = one(spans, 'query TeamPage');
    expect(operation.parentSpanId).toBe(http.spanId);
    expect(operation.attributes).toMatchObject({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'TeamPage',
    });
    const outcomes = cacheOutcomes(operation);
    // The token names its organization: authorization reads the roster, not the caller's membership list. The
    // roster's first page answers at once (a cold page) while the whole roster is read behind it.
    expect(outcomes).toEqual(
      expect.arrayContaining(['members miss', 'invitations miss', 'members cold_page']),
    );

    const roster = one(spans, 'clerk memberships');
    expect(roster.kind).toBe(CLIENT);
    expect(under(spans, roster, operation)).toBe(true);
    expect(roster.attributes).toMatchObject({
      'clerk.route': 'memberships',
      'url.template': '/v1/organizations/{organization_id}/memberships',
      'http.response.status_code': 200,
      'clerk.retries': 0,
    });
    expect(roster.attributes['clerk.queued_ms']).toBeTypeOf('number');
    expect(under(spans, one(spans, 'clerk invitations'), operation)).toBe(true);
  });

  it('a fast-path replay: its own span under the HTTP span, the cache read as hits, no GraphQL execution, no Clerk call', () => {
    const spans = spansOf('replay');
    const http = one(spans, 'POST /graphql');
    expect(http.parentSpanId).toBe(parents.replay);
    const replay = one(spans, 'graphql.replay');
    expect(replay.parentSpanId).toBe(http.spanId);
    expect(replay.attributes['team.fast_path.outcome']).toBe('hit');
    expect(cacheOutcomes(replay)).toContain('members hit');
    expect(spans.filter((span) => span.name.startsWith('query ') || span.name.startsWith('clerk '))).toEqual(
      [],
    );
  });

  it('a cache hit through Yoga: the operation span with hits only, no Clerk call', () => {
    const spans = spansOf('hit');
    const http = one(spans, 'POST /graphql');
    const operation = one(spans, 'query TeamSize');
    expect(operation.parentSpanId).toBe(http.spanId);
    expect(cacheOutcomes(operation)).toEqual(expect.arrayContaining(['members hit']));
    expect(cacheOutcomes(operation).filter((outcome) => !outcome.endsWith(' hit'))).toEqual([]);
    expect(spans.filter((span) => span.name.startsWith('clerk '))).toEqual([]);
  });

  it('a team action: one span with its name and outcome, its Clerk write a client span under it', () => {
    const spans = spansOf('action');
    const operation = one(spans, 'mutation Invite');
    const action = one(spans, 'team_action inviteMembers');
    expect(under(spans, action, operation)).toBe(true);
    expect(action.attributes).toMatchObject({
      'team.action': 'inviteMembers',
      'team.organization_id': team.organizationId,
      'team.action.outcome': 'ok',
    });
    const write = one(spans, 'clerk invitation_writes');
    expect(write.kind).toBe(CLIENT);
    expect(under(spans, write, action)).toBe(true);
  });

  it('a webhook: the delivery as a server span with its event type and outcome, its effects as a child span', () => {
    const applied = traced.spans.filter(
      (span) =>
        span.name === 'webhook.apply organizationMembership.updated' &&
        (span.attributes['team.organizations_touched'] as string[] | undefined)?.includes(webhookMarker),
    );
    expect(applied).toHaveLength(1);
    const apply = applied[0] as ReceivedSpan;
    expect(apply.attributes['team.effects.patches']).toBeGreaterThan(0);
    const http = traced.spans.find((span) => span.spanId === apply.parentSpanId);
    expect(http?.name).toBe('POST /webhooks/clerk');
    expect(http?.kind).toBe(SERVER);
    expect(http?.attributes).toMatchObject({
      'clerk.webhook.event_type': 'organizationMembership.updated',
      'clerk.webhook.outcome': 'processed',
      'http.response.status_code': 200,
    });
  });

  it('no attribute carries an email or a token', () => {
    const values: string[] = [];
    const collect = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value !== undefined) values.push(String(value));
    };
    for (const span of traced.spans) {
      collect(span.name);
      Object.values(span.attributes).forEach(collect);
      Object.values(span.resource).forEach(collect);
      for (const event of span.events) Object.values(event.attributes).forEach(collect);
    }
    expect(values.length).toBeGreaterThan(50);
    expect(values.filter((value) => value.includes('@'))).toEqual([]);
    expect(
      values.filter((value) => value.includes('eyJ') || tokens.some((token) => value.includes(token))),
    ).toEqual([]);
    expect(traced.spans.filter((span) => span.statusCode === ERROR)).toEqual([]);
  });

  it('OTEL_TRACES_SAMPLER=always_off: no span at all, even under a sampled traceparent', () => {
    expect(sampledOff.rejected).toEqual([]);
    expect(sampledOff.spans).toEqual([]);
    // Its requests were served (the setup checked their answers) and never reached the other receiver.
    expect(
      traced.spans.filter((span) => span.traceId === traces.off || span.traceId === traces['off-again']),
    ).toEqual([]);
  });
});
