/**
 * The times `sealtrail query` takes for `--from`/`--to` and `--since`, turned into the ISO-8601 UTC
 * times (with milliseconds) the query API takes and normalizes to: what a cursor is bound to.
 */
import { InvalidArgumentError } from "commander";
import { isoDateTime } from "../lambda/core/schema";

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `2026-12-01` (midnight UTC) or an ISO-8601 date-time with a zone, as the API's normalized UTC form. */
export function parseTime(text: string): string {
  const date = DATE_ONLY.exec(text);
  if (date) {
    const midnight = new Date(`${text}T00:00:00.000Z`);
    // `2026-02-30` parses as March 2nd: only a real calendar date is taken.
    if (!Number.isNaN(midnight.getTime()) && midnight.toISOString().startsWith(text)) {
      return midnight.toISOString();
    }
    throw new InvalidArgumentError(`${text} is not a calendar date (YYYY-MM-DD)`);
  }
  const parsed = isoDateTime.safeParse(text);
  if (parsed.success) return parsed.data;
  throw new InvalidArgumentError(
    "must be a date, 2026-12-01 (midnight UTC), or an ISO-8601 time with a zone, 2026-12-01T09:30:00Z",
  );
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `--since 90m`: the time that long before `now`, as `--from`. Units s, m, h, d, w. */
export function sinceTime(text: string, now: Date = new Date()): string {
  const match = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!match) {
    throw new InvalidArgumentError(
      "must be a whole number and a unit: s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 1h or 7d",
    );
  }
  const span = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  const from = new Date(now.getTime() - span);
  if (Number.isNaN(from.getTime()) || from.getTime() < 0) {
    throw new InvalidArgumentError(`${text} reaches back before 1970: give a shorter span`);
  }
  return from.toISOString();
}
