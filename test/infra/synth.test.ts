/**
 * The app as the CDK CLI runs it: `cdk synth` itself (cdk.json's app, the CLI's own context keys,
 * bundling), and cfn-lint over every template it synthesizes.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assemblyTemplates, type CfnLintFinding, type CliResult, cdkSynth, cfnLint } from "./cdk-cli";
import { TEST_CONTEXT } from "./helpers";

/**
 * cfn-lint findings that are accepted, each with the reason. Anything else (every error, any other
 * warning) fails the test.
 */
const ACCEPTED_FINDINGS: readonly {
  rule: string;
  matches: (f: CfnLintFinding) => boolean;
  reason: string;
}[] = [
  {
    rule: "W3005",
    // "'<Fn>Role…' dependency already enforced by a 'GetAtt' at 'Resources/<Fn>/Properties/Role'"
    matches: (f) =>
      f.Location.Path[2] === "DependsOn" && /at 'Resources\/[^/]+\/Properties\/Role'$/.test(f.Message),
    reason:
      "aws-cdk-lib's lambda.Function adds DependsOn on its role beside the role's default policy, so the " +
      "policy exists before the function can run; the role half duplicates the GetAtt of Properties.Role " +
      "and changes nothing in the deployment order.",
  },
];

let outdir: string;
let synth: CliResult;

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), "sealtrail-synth-"));
  synth = await cdkSynth(outdir, { ...TEST_CONTEXT, retentionDays: "1" });
}, 300_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("cdk synth", () => {
  it("synthesizes with the context the CLI adds of its own (feature flags, aws:cdk:*), bundling included", () => {
    expect(synth.stderr).not.toMatch(/is not a sealtrail context key/);
    expect(synth.code).toBe(0);
    const templates = assemblyTemplates(outdir);
    expect(templates.map((t) => basename(t))).toEqual(["Sealtrail.template.json"]);
    const template = JSON.parse(readFileSync(templates[0] as string, "utf8")) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const locks = Object.values(template.Resources)
      .map((r) => r.Properties?.ObjectLockConfiguration)
      .filter((lock) => lock !== undefined);
    expect(locks).toEqual([
      { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 1 } } },
    ]);
  });

  it("fails on a misspelt context key, naming it and the key it most likely meant", async () => {
    const typo = mkdtempSync(join(tmpdir(), "sealtrail-synth-typo-"));
    try {
      const result = await cdkSynth(typo, { ...TEST_CONTEXT, retentionDay: "1" });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(
        /context retentionDay is not a sealtrail context key \(did you mean retentionDays\?\)/,
      );
      // Nothing to deploy was written.
      expect(assemblyTemplates(typo)).toEqual([]);
    } finally {
      rmSync(typo, { recursive: true, force: true });
    }
  }, 300_000);
});

describe("cfn-lint", () => {
  it("finds no error, and no warning outside the accepted list, in any synthesized template", async () => {
    expect(synth.code).toBe(0);
    const findings = await cfnLint(assemblyTemplates(outdir));
    const unexpected = findings.filter(
      (f) => !ACCEPTED_FINDINGS.some((accepted) => accepted.rule === f.Rule.Id && accepted.matches(f)),
    );
    expect(
      unexpected.map((f) => `${f.Level} ${f.Rule.Id} ${f.Location.Path.join("/")}: ${f.Message}`),
    ).toEqual([]);
    for (const accepted of ACCEPTED_FINDINGS) expect(accepted.reason.length).toBeGreaterThan(60);
  }, 300_000);
});
