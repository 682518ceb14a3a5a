/** The one time format the stored formats write: ISO-8601 UTC with milliseconds (Date#toISOString). */

/** The format as a pattern to embed in a larger one (no anchors, no groups). */
export const ISO_MILLIS_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
/** Exactly one such time. */
export const ISO_MILLIS = new RegExp(`^${ISO_MILLIS_PATTERN}$`);
/** Characters in one, e.g. "2026-11-22T03:00:00.000Z". */
export const ISO_MILLIS_LENGTH = 24;
