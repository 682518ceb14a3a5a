/**
 * The ingest error codes have one definition (lambda/core/ingest-errors.ts): docs/ingest.md's
 * table lists exactly those, with their status and meaning, and the validator answers none other.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INGEST_ERRORS } from "../../lambda/core/ingest-errors";

/** The rows `| status | \`code\` | meaning |` of docs/ingest.md's error table. */
function documentedErrors(): Array<[number, string, string]> {
  const text = readFileSync(join(process.cwd(), "docs", "ingest.md"), "utf8");
  return [...text.matchAll(/^\| (\d{3}) +\| `([a-z0-9_]+)` +\| (.*?) +\|$/gm)].map((match) => [
    Number(match[1]),
    match[2] as string,
    match[3] as string,
  ]);
}

describe("INGEST_ERRORS", () => {
  it("is the table of docs/ingest.md, row for row", () => {
    const defined = Object.entries(INGEST_ERRORS).map(([code, { status, meaning }]) => [
      status,
      code,
      meaning,
    ]);

    expect(documentedErrors()).toEqual(defined);
  });

  it("gives every code a 4xx or 5xx status and a meaning", () => {
    for (const [code, { status, meaning }] of Object.entries(INGEST_ERRORS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(meaning.length, code).toBeGreaterThan(5);
    }
  });
});
