/**
 * Readers of what lambda/core/athena.ts writes, for the template tests only: the production code
 * writes views and named queries, it never reads them back.
 */
import { PRESTO_VIEW_PREFIX, PRESTO_VIEW_SUFFIX, type PrestoViewDefinition } from "../../lambda/core/athena";

/** The view definition inside a Glue view's ViewOriginalText (encodePrestoView's inverse). */
export function decodePrestoView(text: string): PrestoViewDefinition {
  if (!text.startsWith(PRESTO_VIEW_PREFIX) || !text.endsWith(PRESTO_VIEW_SUFFIX)) {
    throw new Error("not a Presto view text");
  }
  const base64 = text.slice(PRESTO_VIEW_PREFIX.length, -PRESTO_VIEW_SUFFIX.length);
  return JSON.parse(Buffer.from(base64, "base64").toString("utf8")) as PrestoViewDefinition;
}

/** The `?` placeholders of a query outside string literals and `--` comments (Athena's parameters). */
export function countPlaceholders(sql: string): number {
  return (
    sql
      .replace(/'(?:[^']|'')*'/g, "")
      .replace(/--[^\n]*/g, "")
      .split("?").length - 1
  );
}
