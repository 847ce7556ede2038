/**
 * The `/v1` Backend API routes: route keys with placeholders (`{id}`, `{user_id}`, `{invitation_id}`), body specs
 * (from the OpenAPI request schemas) and handlers returning Clerk JSON.
 */
import type { Actions } from './actions.js';
import { clerkErrors } from './errors.js';
import {
  type Body,
  type BodySpec,
  multi,
  type Ordering,
  parseOrderBy,
  parsePagination,
  type Query,
  single,
  sliceOrdered,
  str,
} from './params.js';
import type { RoleRecord } from './roles.js';
import {
  invitationJson,
  type Json,
  listJson,
  membershipJson,
  organizationJson,
  roleJson,
  userJson,
} from './serialize.js';
import type {
  Metadata,
  Store,
  StoredInvitation,
  StoredMembership,
  StoredOrganization,
  StoredUser,
} from './store.js';
import { jwks, type SigningKey } from './tokens.js';
import type { HttpRequestInfo } from './webhooks.js';

export interface RequestContext {
  params: Record<string, string>;
  query: Query;
  /** Validated against the route's body spec ({} when the route takes none). */
  body: Body;
  /** Validated elements of a JSON array body, for routes with an `itemBody` spec ([] otherwise). */
  items: Body[];
  request: HttpRequestInfo;
}

type Segment = string | { param: string };

export interface Route {
  method: string;
  /** Route key, e.g. 'GET /v1/organizations/{id}/memberships'. */
  key: string;
  segments: Segment[];
  body?: BodySpec;
  /** The body is a JSON array whose elements each follow this spec (bulk routes). */
  itemBody?: BodySpec;
  handle(ctx: RequestContext): unknown;
}

export interface RouteDeps {
  store: Store;
  actions: Actions;
  signingKey: SigningKey;
}

function route(key: string, handle: (ctx: RequestContext) => unknown, body?: BodySpec): Route {
  const [method = '', path = ''] = key.split(' ');
  const segments: Segment[] = path
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith('{') && part.endsWith('}') ? { param: part.slice(1, -1) } : part));
  return { method, key, segments, handle, ...(body ? { body } : {}) };
}

/** A route whose body is a JSON array of objects, each checked against `itemBody`. */
function bulkRoute(key: string, handle: (ctx: RequestContext) => unknown, itemBody: BodySpec): Route {
  return { ...route(key, handle), itemBody };
}

export type RouteMatch = { route: Route; params: Record<string, string> } | { route: undefined; key: string };

/** Matches a decoded path split into segments; unmatched requests get a key for counting. */
export function matchRoute(routes: Route[], method: string, parts: string[]): RouteMatch {
  let pathMatch: Route | undefined;
  for (const candidate of routes) {
    if (candidate.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length; i++) {
      const segment = candidate.segments[i] as Segment;
      const part = parts[i] as string;
      if (typeof segment === 'string') {
        if (segment !== part) {
          ok = false;
          break;
        }
      } else if (part === '') {
        ok = false;
        break;
      } else {
        params[segment.param] = part;
      }
    }
    if (!ok) continue;
    if (candidate.method === method) return { route: candidate, params };
    pathMatch ??= candidate;
  }
  if (pathMatch) return { route: undefined, key: `${method} ${pathMatch.key.split(' ')[1]}` };
  return { route: undefined, key: `${method} /${parts.join('/')}` };
}

const metadata = (body: Body, name: string): Metadata | undefined => body[name] as Metadata | undefined;

function param(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

const CREATED_DESC: Ordering = { field: 'created_at', descending: true };

function compareNullable(a: string | null | undefined, b: string | null | undefined): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return a.localeCompare(b);
}

function byCreated<T extends { createdAt: number }>(a: T, b: T): number {
  return a.createdAt - b.createdAt;
}

export function buildRoutes({ store, actions, signingKey }: RouteDeps): Route[] {
  // ---- organizations ----

  const listOrganizations = (ctx: RequestContext) => {
    const page = parsePagination(ctx.query);
    const order = parseOrderBy(ctx.query, ['created_at', 'name', 'members_count'], CREATED_DESC);
    let orgs: StoredOrganization[] = store.listOrganizations();
    const q = single(ctx.query, 'query')?.toLowerCase();
    if (q) orgs = orgs.filter((o) => o.id === q || o.name.toLowerCase().includes(q) || o.slug.includes(q));
    const ids = multi(ctx.query, 'organization_id');
    if (ids.length > 0) orgs = filterIncludeExclude(orgs, ids, (o) => o.id);
    const userIds = multi(ctx.query, 'user_id');
    if (userIds.length > 0) {
      const include = userIds.filter((id) => !id.startsWith('-')).map((id) => id.replace(/^\+/, ''));
      const exclude = userIds.filter((id) => id.startsWith('-')).map((id) => id.slice(1));
      orgs = orgs.filter(
        (o) =>
          (include.length === 0 || include.some((u) => store.getMembership(o.id, u))) &&
          !exclude.some((u) => store.getMembership(o.id, u)),
      );
    }
    if (order.field === 'name')
      orgs = [...orgs].sort((a, b) => a.name.localeCompare(b.name) || byCreated(a, b));
    if (order.field === 'members_count') {
      orgs = [...orgs].sort((a, b) => store.membersCount(a.id) - store.membersCount(b.id) || byCreated(a, b));
    }
    const data = sliceOrdered(orgs, order.descending, page).map((o) => organizationJson(store, o));
    return listJson(data, orgs.length);
  };

  /** `max_allowed_memberships` as Clerk validates it (0 means unlimited). */
  const maxAllowedMemberships = (b: RequestContext['body']) => {
    const max = b.max_allowed_memberships as number | undefined;
    if (max !== undefined && max < 0) {
      throw clerkErrors.paramValue(
        'max_allowed_memberships',
        'max_allowed_memberships must be 0 or greater.',
      );
    }
    return max;
  };

  const orgSpec: BodySpec = {
    name: { type: 'string', required: true },
    slug: { type: 'string', nullable: true },
    created_by: { type: 'string', nullable: true },
    private_metadata: { type: 'object', nullable: true },
    public_metadata: { type: 'object', nullable: true },
    max_allowed_memberships: { type: 'integer', nullable: true },
    created_at: { type: 'string', nullable: true },
    role_set_key: { type: 'string', nullable: true },
  };

  const createOrganization = (ctx: RequestContext) => {
    const b = ctx.body;
    const max = maxAllowedMemberships(b);
    const name = str(b, 'name') ?? '';
    if (name.length > 256) throw clerkErrors.paramValue('name', 'name must be at most 256 characters.');
    const createdBy = str(b, 'created_by');
    if (createdBy && !store.getUser(createdBy)) {
      throw clerkErrors.paramValue('created_by', `No user was found with id ${createdBy}.`);
    }
    return actions.createOrganization(
      {
        name,
        ...(str(b, 'slug') !== undefined ? { slug: str(b, 'slug') } : {}),
        ...(createdBy ? { createdBy } : {}),
        ...(max !== undefined ? { maxAllowedMemberships: max } : {}),
        ...(metadata(b, 'public_metadata') ? { publicMetadata: metadata(b, 'public_metadata') } : {}),
        ...(metadata(b, 'private_metadata') ? { privateMetadata: metadata(b, 'private_metadata') } : {}),
      },
      ctx.request,
    );
  };

  const updateOrgSpec: BodySpec = {
    name: { type: 'string', nullable: true },
    slug: { type: 'string', nullable: true },
    max_allowed_memberships: { type: 'integer', nullable: true },
    admin_delete_enabled: { type: 'boolean', nullable: true },
    created_at: { type: 'string', nullable: true },
    role_set_key: { type: 'string', nullable: true },
  };

  const updateOrganization = (ctx: RequestContext) => {
    const b = ctx.body;
    const max = maxAllowedMemberships(b);
    return actions.updateOrganization(
      store.requireOrganization(param(ctx, 'id')).id,
      {
        ...(str(b, 'name') !== undefined ? { name: str(b, 'name') } : {}),
        ...(str(b, 'slug') !== undefined ? { slug: str(b, 'slug') } : {}),
        ...(max !== undefined ? { maxAllowedMemberships: max } : {}),
        ...(typeof b.admin_delete_enabled === 'boolean'
          ? { adminDeleteEnabled: b.admin_delete_enabled }
          : {}),
      },
      ctx.request,
    );
  };

  // ---- memberships ----

  const listMemberships = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    const page = parsePagination(ctx.query);
    const order = parseOrderBy(
      ctx.query,
      ['created_at', 'first_name', 'last_name', 'email_address', 'phone_number', 'username'],
      CREATED_DESC,
    );
    let members: readonly StoredMembership[] = store.membershipsAscending(org.id);
    const roles = multi(ctx.query, 'role');
    if (roles.length > 0) members = members.filter((m) => roles.includes(m.role));
    const userIds = multi(ctx.query, 'user_id');
    if (userIds.length > 0) members = filterIncludeExclude(members, userIds, (m) => m.userId);
    const emails = multi(ctx.query, 'email_address').map((e) => e.toLowerCase());
    if (emails.length > 0) {
      members = members.filter((m) =>
        emails.includes(store.getUser(m.userId)?.emailAddress.toLowerCase() ?? ''),
      );
    }
    const q = single(ctx.query, 'query')?.toLowerCase();
    if (q) {
      members = members.filter((m) => {
        const u = store.getUser(m.userId);
        return [m.userId, u?.emailAddress, u?.firstName, u?.lastName, u?.username].some((v) =>
          v?.toLowerCase().includes(q),
        );
      });
    }
    if (order.field !== 'created_at') {
      const value = (m: StoredMembership): string | null | undefined => {
        const u = store.getUser(m.userId);
        if (order.field === 'first_name') return u?.firstName;
        if (order.field === 'last_name') return u?.lastName;
        if (order.field === 'email_address') return u?.emailAddress;
        if (order.field === 'username') return u?.username;
        return null;
      };
      members = [...members].sort((a, b) => compareNullable(value(a), value(b)) || byCreated(a, b));
    }
    const orgJson = organizationJson(store, org);
    const data = sliceOrdered(members, order.descending, page).map((m) => membershipJson(store, m, orgJson));
    return listJson(data, members.length);
  };

  const createMembership = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    const userId = str(ctx.body, 'user_id') ?? '';
    if (!store.getUser(userId)) throw clerkErrors.notFound();
    return actions.createMembership(
      org.id,
      {
        userId,
        role: str(ctx.body, 'role') ?? '',
        ...(metadata(ctx.body, 'public_metadata')
          ? { publicMetadata: metadata(ctx.body, 'public_metadata') }
          : {}),
        ...(metadata(ctx.body, 'private_metadata')
          ? { privateMetadata: metadata(ctx.body, 'private_metadata') }
          : {}),
      },
      ctx.request,
    );
  };

  /**
   * `GET /v1/users/{user_id}/organization_memberships`: one user's memberships, newest first, each with its
   * organization. Clerk's OpenAPI lists no 404 for this route: an unknown user has no memberships.
   */
  const listUserMemberships = (ctx: RequestContext) => {
    const page = parsePagination(ctx.query);
    const memberships = store.membershipsOfUser(param(ctx, 'user_id')).sort(byCreated);
    const data = sliceOrdered(memberships, true, page).map((m) => membershipJson(store, m));
    return listJson(data, memberships.length);
  };

  // ---- invitations ----

  const INVITATION_STATUSES = ['pending', 'accepted', 'revoked', 'expired'];

  const listInvitations = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    const page = parsePagination(ctx.query);
    const order = parseOrderBy(ctx.query, ['created_at', 'email_address'], CREATED_DESC);
    const statuses = multi(ctx.query, 'status');
    for (const status of statuses) {
      if (!INVITATION_STATUSES.includes(status)) {
        throw clerkErrors.paramValue('status', `status must be one of ${INVITATION_STATUSES.join(', ')}.`);
      }
    }
    let invitations: readonly StoredInvitation[] = store.invitationsAscending(org.id);
    if (statuses.length > 0) {
      invitations = invitations.filter((i) => statuses.includes(store.invitationStatus(i)));
    }
    const email = single(ctx.query, 'email_address')?.toLowerCase();
    if (email) invitations = invitations.filter((i) => i.emailAddress.toLowerCase() === email);
    if (order.field === 'email_address') {
      invitations = [...invitations].sort(
        (a, b) => a.emailAddress.localeCompare(b.emailAddress) || byCreated(a, b),
      );
    }
    const data = sliceOrdered(invitations, order.descending, page).map((i) => invitationJson(store, i));
    return listJson(data, invitations.length);
  };

  const invitationSpec: BodySpec = {
    email_address: { type: 'string', required: true },
    role: { type: 'string', required: true },
    inviter_user_id: { type: 'string', nullable: true },
    public_metadata: { type: 'object', nullable: true },
    private_metadata: { type: 'object', nullable: true },
    redirect_url: { type: 'string', nullable: true },
    expires_in_days: { type: 'integer', nullable: true },
    notify: { type: 'boolean', nullable: true },
  };

  const invitationInput = (b: Body) => {
    const inviter = str(b, 'inviter_user_id');
    if (inviter && !store.getUser(inviter)) throw clerkErrors.notFound();
    return {
      emailAddress: str(b, 'email_address') ?? '',
      role: str(b, 'role') ?? '',
      ...(inviter ? { inviterUserId: inviter } : {}),
      ...(typeof b.expires_in_days === 'number' ? { expiresInDays: b.expires_in_days } : {}),
      ...(metadata(b, 'public_metadata') ? { publicMetadata: metadata(b, 'public_metadata') } : {}),
      ...(metadata(b, 'private_metadata') ? { privateMetadata: metadata(b, 'private_metadata') } : {}),
    };
  };

  const createInvitation = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    return actions.createInvitation(org.id, invitationInput(ctx.body), ctx.request);
  };

  const createInvitationsBulk = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    return actions.createInvitationsBulk(org.id, ctx.items.map(invitationInput), ctx.request);
  };

  const getInvitation = (ctx: RequestContext) => {
    const org = store.requireOrganization(param(ctx, 'id'));
    return invitationJson(store, store.requireInvitation(org.id, param(ctx, 'invitation_id')));
  };

  // ---- organization roles ----

  /**
   * `GET /v1/organization_roles`: the instance's roles, newest first by default; `query` matches an ID exactly or
   * a name or key in part; `order_by` ±created_at, name or key.
   */
  const listOrganizationRoles = (ctx: RequestContext) => {
    const page = parsePagination(ctx.query);
    const order = parseOrderBy(ctx.query, ['created_at', 'name', 'key'], CREATED_DESC);
    let roles: readonly RoleRecord[] = store.roles.list();
    const q = single(ctx.query, 'query');
    if (q) {
      const lower = q.toLowerCase();
      roles = roles.filter(
        (r) => r.id === q || r.name.toLowerCase().includes(lower) || r.key.toLowerCase().includes(lower),
      );
    }
    if (order.field === 'name' || order.field === 'key') {
      const field = order.field;
      roles = [...roles].sort((a, b) => a[field].localeCompare(b[field]) || byCreated(a, b));
    }
    const data = sliceOrdered(roles, order.descending, page).map((r) => roleJson(store, r));
    return listJson(data, roles.length);
  };

  const getOrganizationRole = (ctx: RequestContext) => {
    const role = store.roles.byId(param(ctx, 'organization_role_id'));
    if (!role) throw clerkErrors.notFound();
    return roleJson(store, role);
  };

  // ---- users ----

  const userSpec: BodySpec = {
    external_id: { type: 'string', nullable: true },
    first_name: { type: 'string', nullable: true },
    last_name: { type: 'string', nullable: true },
    locale: { type: 'string', nullable: true },
    primary_email_address_id: { type: 'string', nullable: true },
    notify_primary_email_address_changed: { type: 'boolean', nullable: true },
    primary_phone_number_id: { type: 'string', nullable: true },
    primary_web3_wallet_id: { type: 'string', nullable: true },
    username: { type: 'string', nullable: true },
    profile_image_id: { type: 'string', nullable: true },
    password: { type: 'string', nullable: true },
    password_digest: { type: 'string' },
    password_hasher: { type: 'string' },
    skip_password_checks: { type: 'boolean', nullable: true },
    sign_out_of_other_sessions: { type: 'boolean', nullable: true },
    totp_secret: { type: 'string', nullable: true },
    backup_codes: { type: 'array' },
    delete_self_enabled: { type: 'boolean', nullable: true },
    create_organization_enabled: { type: 'boolean', nullable: true },
    legal_accepted_at: { type: 'string', nullable: true },
    skip_legal_checks: { type: 'boolean', nullable: true },
    create_organizations_limit: { type: 'integer', nullable: true },
    created_at: { type: 'string', nullable: true },
    bypass_client_trust: { type: 'boolean', nullable: true },
  };

  const updateUser = (ctx: RequestContext) => {
    const b = ctx.body;
    const user = store.requireUser(param(ctx, 'id'));
    const primary = str(b, 'primary_email_address_id');
    if (primary !== undefined && primary !== user.emailAddressId) {
      throw clerkErrors.paramValue('primary_email_address_id', 'No email address was found with that id.');
    }
    const name = (key: string) => {
      const value = str(b, key);
      return value === undefined
        ? {}
        : { [key === 'first_name' ? 'firstName' : 'lastName']: value.trim() || null };
    };
    return actions.updateUser(
      user.id,
      {
        ...name('first_name'),
        ...name('last_name'),
        ...(str(b, 'username') !== undefined ? { username: str(b, 'username') || null } : {}),
        ...(str(b, 'external_id') !== undefined ? { externalId: str(b, 'external_id') || null } : {}),
      },
      ctx.request,
    );
  };

  // Clerk's user list is a bare array; its total comes from /users/count.
  const filteredUsers = (query: Query): StoredUser[] => {
    let users = store.listUsers();
    const ids = multi(query, 'user_id');
    if (ids.length > 0) users = filterIncludeExclude(users, ids, (u) => u.id);
    const emails = multi(query, 'email_address').map((e) => e.toLowerCase());
    if (emails.length > 0) users = users.filter((u) => emails.includes(u.emailAddress.toLowerCase()));
    const q = single(query, 'query')?.toLowerCase();
    if (q) {
      users = users.filter((u) =>
        [u.id, u.emailAddress, u.firstName, u.lastName, u.username].some((v) => v?.toLowerCase().includes(q)),
      );
    }
    const orgIds = multi(query, 'organization_id');
    if (orgIds.length > 0) users = users.filter((u) => orgIds.some((o) => store.getMembership(o, u.id)));
    return users;
  };

  const listUsers = (ctx: RequestContext) => {
    const page = parsePagination(ctx.query);
    const order = parseOrderBy(
      ctx.query,
      ['created_at', 'updated_at', 'first_name', 'last_name', 'email_address'],
      CREATED_DESC,
    );
    let users = filteredUsers(ctx.query);
    if (order.field !== 'created_at') {
      const value = (u: StoredUser): string | null =>
        order.field === 'first_name'
          ? u.firstName
          : order.field === 'last_name'
            ? u.lastName
            : order.field === 'email_address'
              ? u.emailAddress
              : String(u.updatedAt).padStart(16, '0');
      users = [...users].sort((a, b) => compareNullable(value(a), value(b)) || byCreated(a, b));
    }
    return sliceOrdered(users, order.descending, page).map(userJson);
  };

  return [
    route('GET /v1/jwks', () => jwks(signingKey)),
    route('GET /v1/users', listUsers),
    route('GET /v1/users/count', (ctx) => ({
      object: 'total_count',
      total_count: filteredUsers(ctx.query).length,
    })),
    route('GET /v1/organization_roles', listOrganizationRoles),
    route('GET /v1/organization_roles/{organization_role_id}', getOrganizationRole),
    route('GET /v1/organizations', listOrganizations),
    route('POST /v1/organizations', createOrganization, orgSpec),
    route('GET /v1/organizations/{id}', (ctx) =>
      organizationJson(store, store.requireOrganization(param(ctx, 'id'))),
    ),
    route('PATCH /v1/organizations/{id}', updateOrganization, updateOrgSpec),
    route('DELETE /v1/organizations/{id}', (ctx) =>
      actions.deleteOrganization(store.requireOrganization(param(ctx, 'id')).id, ctx.request),
    ),
    route('GET /v1/organizations/{id}/memberships', listMemberships),
    route('POST /v1/organizations/{id}/memberships', createMembership, {
      user_id: { type: 'string', required: true },
      role: { type: 'string', required: true },
      public_metadata: { type: 'object', nullable: true },
      private_metadata: { type: 'object', nullable: true },
    }),
    route(
      'PATCH /v1/organizations/{id}/memberships/{user_id}',
      (ctx) =>
        actions.updateMembership(
          param(ctx, 'id'),
          param(ctx, 'user_id'),
          str(ctx.body, 'role') ?? '',
          ctx.request,
        ),
      { role: { type: 'string', required: true } },
    ),
    route('DELETE /v1/organizations/{id}/memberships/{user_id}', (ctx) =>
      actions.deleteMembership(param(ctx, 'id'), param(ctx, 'user_id'), ctx.request),
    ),
    route('GET /v1/organizations/{id}/invitations', listInvitations),
    route('POST /v1/organizations/{id}/invitations', createInvitation, invitationSpec),
    bulkRoute('POST /v1/organizations/{id}/invitations/bulk', createInvitationsBulk, invitationSpec),
    route('GET /v1/organizations/{id}/invitations/{invitation_id}', getInvitation),
    route(
      'POST /v1/organizations/{id}/invitations/{invitation_id}/revoke',
      (ctx) => actions.revokeInvitation(param(ctx, 'id'), param(ctx, 'invitation_id'), ctx.request),
      { requesting_user_id: { type: 'string', nullable: true } },
    ),
    route('GET /v1/users/{id}', (ctx) => userJson(store.requireUser(param(ctx, 'id')))),
    route('GET /v1/users/{user_id}/organization_memberships', listUserMemberships),
    route('PATCH /v1/users/{id}', updateUser, userSpec),
    route('DELETE /v1/users/{id}', (ctx) => actions.deleteUser(param(ctx, 'id'), ctx.request)),
  ];
}

/** `+id` / `id` include, `-id` exclude (Clerk's list filter convention). */
function filterIncludeExclude<T>(items: readonly T[], values: string[], idOf: (item: T) => string): T[] {
  const include = values.filter((v) => !v.startsWith('-')).map((v) => v.replace(/^\+/, ''));
  const exclude = new Set(values.filter((v) => v.startsWith('-')).map((v) => v.slice(1)));
  const includeSet = new Set(include);
  return items.filter((item) => {
    const id = idOf(item);
    return (includeSet.size === 0 || includeSet.has(id)) && !exclude.has(id);
  });
}

export type { Json };
