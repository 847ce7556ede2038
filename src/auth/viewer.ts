/** Who is calling, as told by a verified Clerk session token. */
export interface Viewer {
  userId: string;
  sessionId: string | null;
  /** The session's active organization: v1 `org_id` or v2 `o.id`. */
  activeOrganizationId: string | null;
  /** Clerk role key with its `org:` prefix (v2 tokens carry it without). */
  activeOrganizationRole: string | null;
  /**
   * When Clerk issued the token (`iat`, as epoch ms): the date of its organization claim as evidence of
   * membership. Null when the token has no usable `iat`; its claim then proves nothing on its own.
   */
  issuedAt: number | null;
}

/** Claims of a Clerk session token that we read; both token versions exist in the wild. */
export interface SessionClaims {
  sub: string;
  sid?: unknown;
  exp: number;
  iat?: unknown;
  org_id?: unknown;
  org_role?: unknown;
  o?: unknown;
}

const asString = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

export function viewerFromClaims(claims: SessionClaims): Viewer {
  const v2 = typeof claims.o === 'object' && claims.o !== null ? (claims.o as Record<string, unknown>) : null;
  const v2Role = asString(v2?.rol);
  return {
    userId: claims.sub,
    sessionId: asString(claims.sid),
    activeOrganizationId: asString(v2?.id) ?? asString(claims.org_id),
    activeOrganizationRole:
      (v2Role && (v2Role.startsWith('org:') ? v2Role : `org:${v2Role}`)) ?? asString(claims.org_role),
    issuedAt: typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat * 1000 : null,
  };
}
