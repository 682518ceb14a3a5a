/**
 * The actions only sealtrail itself writes: a read's trail (`audit.read`, lambda/query/read-audit.ts)
 * and the data-subject routes' (`subject.*`, lambda/privacy/subject-service.ts). `POST /v1/events`
 * refuses them (`reserved_action`), so the archive's erasure and hold trail, which a table restore
 * replays (docs/privacy.md), and its read trail hold only what sealtrail wrote.
 */
export const READ_AUDIT_ACTION = "audit.read";

export const SUBJECT_ACTIONS = {
  /** Archived before the key is destroyed, so no erasure goes unrecorded whatever fails after it. */
  eraseRequested: "subject.erase_requested",
  erased: "subject.erased",
  eraseRefused: "subject.erase_refused",
  /** Archived before a hold is placed or released. */
  holdRequested: "subject.hold_requested",
  holdPlaced: "subject.hold_placed",
  holdReleased: "subject.hold_released",
} as const;

const SUBJECT_PREFIX = "subject.";

/** Whether `action` is one a client may not send: `audit.read`, or any `subject.` action. */
export function isServerAction(action: string): boolean {
  return action === READ_AUDIT_ACTION || action.startsWith(SUBJECT_PREFIX);
}
