/**
 * A local emulator of Clerk's Backend API (`/v1`), its session tokens (RS256 + JWKS) and its Svix webhooks, with
 * runtime knobs (latency, faults, rate limits) for tests and benchmarks. See contract.ts for the interface.
 */
import { Actions } from './actions.js';
import type {
  ClerkEmulator,
  DemoFixture,
  EmulatorControl,
  EmulatorStore,
  MintTokenOptions,
  StartEmulatorOptions,
} from './contract.js';
import { createControl, createControlHandler, type ExtendedControl } from './control.js';
import { createEmulatorServer } from './http.js';
import { Knobs } from './knobs.js';
import { buildRoutes } from './routes.js';
import { DEMO_SEED, seedDemo } from './seed.js';
import { Store } from './store.js';
import { newSigningKey, type SigningKey, sessionClaims, signingKeyFrom, signJwt } from './tokens.js';
import { validateEndpoint, WebhookDispatcher } from './webhooks.js';

export type * from './contract.js';
export { loadOrCreateSigningKeyPem } from './key-file.js';

/** `iss` of minted session tokens (Clerk puts its Frontend API URL there; verifyToken does not check it). */
export const EMULATOR_ISSUER = 'https://clerk.emulator.local';

export const DEFAULT_SECRET_KEY = 'sk_test_emulator';
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS = [100, 500, 2000];

/** What `startClerkEmulator` returns: the contract plus a few extras. */
export interface RunningClerkEmulator extends ClerkEmulator {
  readonly control: ExtendedControl;
  readonly store: Store & EmulatorStore;
  /** PKCS#8 PEM of the signing key, for tools that mint their own tokens. */
  readonly privateKeyPem: string;
  readonly issuer: string;
  readonly port: number;
}

function formatUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

export async function startClerkEmulator(options: StartEmulatorOptions = {}): Promise<RunningClerkEmulator> {
  const host = options.host ?? '127.0.0.1';
  const secretKey = options.secretKey ?? DEFAULT_SECRET_KEY;
  const seed = options.seed ?? 'empty';
  const endpoints = options.webhookEndpoints ?? [];
  for (const endpoint of endpoints) validateEndpoint(endpoint);

  const signingKey: SigningKey = options.signingKeyPem
    ? signingKeyFrom(options.signingKeyPem)
    : await newSigningKey();
  const instanceId = signingKey.kid;

  const store = new Store(seed === 'demo' ? { seed: DEMO_SEED } : {});
  let demo: DemoFixture | undefined;
  if (seed === 'demo') {
    demo = seedDemo(store);
    // Later objects get random IDs, so that they never collide across emulator instances.
    store.ids.unseed();
  }

  const knobs = new Knobs();
  knobs.setLatency(options.latencyMs ?? 0, options.jitterMs ?? 0);
  knobs.setRateLimit(options.rateLimit ?? false);
  const webhooks = new WebhookDispatcher(
    instanceId,
    endpoints,
    options.webhookRetryDelaysMs ?? DEFAULT_WEBHOOK_RETRY_DELAYS_MS,
  );
  const actions = new Actions(store, webhooks);
  actions.minimumPermissionsCheck = options.minimumPermissionsCheck ?? true;

  const mintToken = (mint: MintTokenOptions): string => {
    const org = mint.orgId ? store.getOrganization(mint.orgId) : undefined;
    const role =
      mint.orgRole ?? (org ? store.getMembership(org.id, mint.userId)?.role : undefined) ?? 'org:member';
    return signJwt(
      signingKey,
      sessionClaims({
        userId: mint.userId,
        issuer: EMULATOR_ISSUER,
        ...(mint.orgId ? { orgId: org?.id ?? mint.orgId, orgRole: role, orgSlug: org?.slug ?? '' } : {}),
        ...(mint.claimsVersion !== undefined ? { claimsVersion: mint.claimsVersion } : {}),
        ...(mint.azp !== undefined ? { azp: mint.azp } : {}),
        ...(mint.expiresInS !== undefined ? { expiresInS: mint.expiresInS } : {}),
        ...(mint.issuedAtS !== undefined ? { issuedAtS: mint.issuedAtS } : {}),
        ...(mint.sessionId !== undefined ? { sessionId: mint.sessionId } : {}),
      }),
    );
  };

  let url = '';
  const controlDeps = {
    store,
    actions,
    knobs,
    webhooks,
    mintToken,
    demo,
    info: () => ({
      url,
      instance_id: instanceId,
      kid: signingKey.kid,
      issuer: EMULATOR_ISSUER,
      public_key_pem: signingKey.publicKeyPem,
      seed,
    }),
  };
  const control = createControl(controlDeps);
  const server = createEmulatorServer({
    routes: buildRoutes({ store, actions, signingKey }),
    knobs,
    secretKey,
    control: createControlHandler(controlDeps, control),
  });
  const address = await server.listen(options.port ?? 0, host);
  url = formatUrl(host, address.port);

  let closed: Promise<void> | undefined;
  const emulator: RunningClerkEmulator = {
    url,
    port: address.port,
    secretKey,
    publicKeyPem: signingKey.publicKeyPem,
    privateKeyPem: signingKey.privateKeyPem,
    kid: signingKey.kid,
    instanceId,
    issuer: EMULATOR_ISSUER,
    demo,
    store,
    control,
    mintToken,
    close() {
      closed ??= (async () => {
        webhooks.close();
        await server.close();
      })();
      return closed;
    },
  };
  return emulator;
}

export type { EmulatorControl };
