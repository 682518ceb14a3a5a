/**
 * The verifier's finding codes: one definition (lambda/verify/findings.ts) for the verifier, its
 * report and docs/verify.md's table of what `sealtrail verify` checks, which auditors read to know
 * what each code means.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FINDING_CODES, type Severity } from "../../lambda/verify/findings";

const TABLE_HEADER = "| step | checks | errors | warnings |";

/** The codes the table's errors and warnings columns name, each column in table order. */
function documentedCodes(markdown: string): Record<Severity, string[]> {
  const lines = markdown.split("\n");
  const start = lines.indexOf(TABLE_HEADER);
  expect(start, `docs/verify.md has no table headed ${TABLE_HEADER}`).toBeGreaterThanOrEqual(0);
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").map((cell) => cell.trim()));
  }
  const codesIn = (cell: string | undefined) =>
    [...(cell ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
  // A row is ["", step, checks, errors, warnings, ""].
  return { error: rows.flatMap((row) => codesIn(row[3])), warning: rows.flatMap((row) => codesIn(row[4])) };
}

const codesOf = (severity: Severity) =>
  Object.entries(FINDING_CODES)
    .filter(([, of]) => of === severity)
    .map(([code]) => code);

describe("finding codes", () => {
  // Prepare
  const documented = documentedCodes(readFileSync(new URL("../../docs/verify.md", import.meta.url), "utf8"));

  it.each<Severity>([
    "error",
    "warning",
  ])("docs/verify.md's table names every %s code, once, and no other", (severity) => {
    // Assess: bad_checkpoint was reported but missing from the table. On a difference, add the code to
    // its step's row (or remove the one the verifier no longer reports).
    expect([...documented[severity]].sort()).toEqual(codesOf(severity).sort());
  });

  it("lists the codes in the table's order, so the two read alike", () => {
    expect([...documented.error, ...documented.warning]).toEqual([
      ...codesOf("error"),
      ...codesOf("warning"),
    ]);
  });
});
