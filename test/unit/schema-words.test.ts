/**
 * The verifier's schema messages, in sealtrail's words: each names the field and what is wrong with
 * it, a wrong type is never called missing, and no message is zod's own or starts with ": ".
 */
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { ProofBundleSchema } from "../../lambda/core/proof";
import { describeSchemaIssues } from "../../lambda/core/schema-words";
import { checkBatch } from "../../lambda/verify/batch-check";
import { committedBatch } from "../support/committed-batch";

const ZOD_WORDING = /Invalid input|Invalid option|Too small|Too big|Unrecognized key|received/;

const BUNDLE = {
  v: 1,
  event: "01J0000000000000000000000",
  record: "{}",
  batch: { leaf_index: 0, audit_path: [] },
  link: "{}",
  chain_proof: { audit_path: [] },
  checkpoint: "a.b.c",
};

function bundleProblem(input: unknown): string {
  const parsed = ProofBundleSchema.safeParse(input);
  if (parsed.success) throw new Error("expected the bundle to be refused");
  return describeSchemaIssues(parsed.error, input, "the bundle");
}

describe("describeSchemaIssues", () => {
  it.each<[string, unknown, string]>([
    ["a missing field", { ...BUNDLE, record: undefined }, "record is missing"],
    [
      "a wrong type",
      { ...BUNDLE, batch: { ...BUNDLE.batch, leaf_index: "5" } },
      "batch.leaf_index must be a number, not a string",
    ],
    [
      "a fraction where a whole number belongs",
      { ...BUNDLE, batch: { ...BUNDLE.batch, leaf_index: 1.5 } },
      "batch.leaf_index must be a whole number, not 1.5",
    ],
    [
      "a negative index",
      { ...BUNDLE, batch: { ...BUNDLE.batch, leaf_index: -1 } },
      "batch.leaf_index must be at least 0",
    ],
    ["an empty string", { ...BUNDLE, link: "" }, "link must not be empty"],
    ["another version", { ...BUNDLE, v: 2 }, "v must be 1"],
    ["an unknown field", { ...BUNDLE, extra: true }, "extra is not a field of the bundle; remove it"],
    [
      "an unknown nested field",
      { ...BUNDLE, chain_proof: { audit_path: [], size: 3 } },
      "chain_proof.size is not a field of chain_proof; remove it",
    ],
    [
      "a bad hash in a list",
      { ...BUNDLE, chain_proof: { audit_path: ["zz"] } },
      "chain_proof.audit_path[0] is not valid: expected 64 lowercase hex digits",
    ],
    ["not an object at all", [BUNDLE], "the bundle must be a JSON object, not an array"],
  ])("%s", (_name, input, expected) => {
    const message = bundleProblem(input);
    expect(message).toBe(expected);
    expect(message).not.toMatch(ZOD_WORDING);
  });

  it("says how many more problems there are beyond the limit", () => {
    expect(bundleProblem({})).toBe("v must be 1; event is missing; record is missing; and 4 more");
  });

  it("keeps the schema's own words, and lists the allowed values", () => {
    const schema = z.strictObject({
      name: z.string().regex(/^[a-z]+$/, "must be lower-case letters"),
      outcome: z.enum(["success", "failure", "denied"]),
    });
    const input = { name: "Ab", outcome: "maybe" };
    const parsed = schema.safeParse(input);
    expect(describeSchemaIssues(parsed.error as z.ZodError, input, "the value")).toBe(
      "name must be lower-case letters; outcome must be one of success, failure, denied",
    );
  });
});

describe("checkBatch's bad_line messages", () => {
  it.each([
    ["[1,2]", "not an event record: the line must be a JSON object, not an array"],
    ['{"v":1,"id":42}', "not an event record: id must be a string, not 42; and "],
  ])("%s: names the field in plain words, never ': '", (line, expected) => {
    const { bytes, batch } = committedBatch([line]);
    const problems = checkBatch(bytes, batch, { keepEvents: false }).problems;
    const bad = problems.find((problem) => problem.code === "bad_line");
    expect(bad?.message.startsWith(expected)).toBe(true);
    expect(bad?.message).not.toMatch(/: :|^: /);
    expect(bad?.message).not.toMatch(ZOD_WORDING);
  });
});
