/**
 * One log line per team write, for whoever must later answer "who changed this?": the actor, the organization,
 * the action, the IDs it touched, its outcome and the request's ID. Never an email address (invitations are named by
 * their IDs; refused ones only counted).
 */
import type { Logger } from '../observability/logger.js';

export type TeamActionName =
  | 'inviteMembers'
  | 'revokeInvitation'
  | 'resendInvitation'
  | 'updateMemberRole'
  | 'removeMember'
  | 'leaveOrganization';

export interface AuditEntry {
  actor: string;
  organizationId: string;
  action: TeamActionName;
  /** User, membership or invitation IDs the write touched. */
  targets: string[];
  /** `ok`, `partial` (some invitations refused), a refusal code, or `error`. */
  outcome: string;
  requestId: string | undefined;
  /** Anything else worth counting (never personal data), e.g. `{ refused: 2 }`. */
  detail?: Record<string, number | string | boolean>;
}

export type AuditLog = (entry: AuditEntry) => void;

export const createAuditLog =
  (logger: Logger): AuditLog =>
  (entry) =>
    logger.info('team action', { audit: true, ...entry });
