/** The app's context keys: one definition (lib/context.ts) for the parser, the key check and the README. */
import { readFileSync } from "node:fs";
import { App, type Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { ENV } from "../../lambda/runtime/config";
import { appConfigFromContext, configureApp } from "../../lib/app";
import { CONTEXT_KEY_NAMES, contextKeysMarkdown, readContext } from "../../lib/context";
import { newApp, TEST_CONTEXT } from "./helpers";

/**
 * The context CDK CLI 2.1148.1 gives the app for `cdk synth -c retentionDays=1`, as read from its
 * CDK_CONTEXT_JSON (cdk.json's feature flags, the CLI's switches), plus what other CLI commands save in
 * cdk.context.json: a context lookup, `cdk acknowledge` and `cdk cli-telemetry`. test/infra/synth.test.ts
 * runs the CLI itself.
 */
const CDK_CLI_CONTEXT = {
  "@aws-cdk/aws-lambda:recognizeLayerVersion": true,
  "@aws-cdk/core:target-partitions": ["aws", "aws-cn"],
  "@aws-cdk/aws-lambda-nodejs:useLatestRuntimeVersion": true,
  "aws:cdk:enable-path-metadata": true,
  "aws:cdk:enable-asset-metadata": true,
  "aws:cdk:version-reporting": true,
  "aws:cdk:bundling-stacks": ["**"],
  "@aws-cdk/core:failSynthOnValidationErrors": false,
  "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b"],
  "acknowledged-issue-numbers": [32775],
  "cli-telemetry": false,
};

const configFor = (context: Record<string, unknown>) => () => appConfigFromContext(new App({ context }).node);

describe("context keys", () => {
  it("refuses a misspelt key, suggests the right one and lists every valid key", () => {
    // Act / Assess: `-c retentionDay=1` used to synthesize the default 2555-day lock.
    expect(configFor({ ...TEST_CONTEXT, retentionDay: "1" })).toThrow(
      new RegExp(
        `context retentionDay is not a sealtrail context key \\(did you mean retentionDays\\?\\): remove it or use one of ${CONTEXT_KEY_NAMES.join(", ")}`,
      ),
    );
  });

  it("refuses an unknown key before any stack exists, so nothing is synthesized", () => {
    const app = newApp({ ...TEST_CONTEXT, retentionDay: "1" });
    expect(() => configureApp(app)).toThrow(/retentionDay is not a sealtrail context key/);
    expect(app.node.children).toEqual([]);
  });

  it("lets CDK's own keys pass: what the CLI passes and what it saves in cdk.context.json", () => {
    expect(configFor({ ...CDK_CLI_CONTEXT, ...TEST_CONTEXT, retentionDays: "1" })().props.retentionDays).toBe(
      1,
    );
  });

  it.each([
    [
      "retentionDays",
      "abc",
      /context retentionDays must be a whole number from 1 to 36500, got "abc": pass e.g. -c retentionDays=30/,
    ],
    ["retentionDays", "36501", /context retentionDays must be a whole number from 1 to 36500, got "36501"/],
    ["chains", "0", /context chains must be a whole number from 1 to 1024, got "0": pass e.g. -c chains=16/],
    ["chains", "1e3", /context chains must be a whole number from 1 to 1024, got "1e3"/],
    ["indexTtlDays", "-1", /context indexTtlDays must be a whole number of at least 1, got "-1"/],
    [
      "authFailureAlarmThreshold",
      "lots",
      /context authFailureAlarmThreshold must be a whole number of at least 1/,
    ],
    [
      "issuer",
      "http://idp.example.com",
      /context issuer must be https URL, got "http:\/\/idp.example.com": pass e.g. -c issuer=https:/,
    ],
    ["alarmEmail", "oncall", /context alarmEmail must be email address, got "oncall"/],
    [
      "stackName",
      "1-trial",
      /context stackName must be CloudFormation stack name, got "1-trial": pass e.g. -c stackName=/,
    ],
    ["audience", 42, /context audience must be a comma-separated list, got 42/],
    [
      "subjectIssuers",
      "{nope",
      /context subjectIssuers must be a JSON array, got \{nope: pass e.g. -c 'subjectIssuers=\[/,
    ],
  ])("refuses %s=%s, naming the key and the fix", (key, value, message) => {
    expect(configFor({ ...TEST_CONTEXT, [key]: value })).toThrow(message);
  });

  it("reports every problem at once", () => {
    expect(() => readContext({ retentionDays: "abc", chains: "0", retentionDay: "1" })).toThrow(
      /Invalid context[^\n]*\n- context retentionDays[^\n]*\n- context chains[^\n]*\n- context retentionDay is not/,
    );
  });

  it("treats an empty value as not given", () => {
    expect(readContext({ tenantClaim: "", chains: " " })).toEqual({});
  });

  it("sets the auth-failure alarm's threshold and the stack name from context", () => {
    // Prepare
    const app = newApp({ ...TEST_CONTEXT, authFailureAlarmThreshold: "750", stackName: "SealtrailTrial" });
    // Act
    const stack = configureApp(app);
    // Assess: the README listed authFailureAlarmThreshold while the app ignored it.
    expect(stack.stackName).toBe("SealtrailTrial");
    Template.fromStack(stack).hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "4xx",
      Threshold: 750,
    });
  });
});

describe("subject token leeway", () => {
  /** The leeway each function of the API is given (they share one environment). */
  const leeways = (stack: Stack) =>
    Object.values(Template.fromStack(stack).findResources("AWS::Lambda::Function"))
      .map(
        (fn) => (fn as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties,
      )
      .map((properties) => properties.Environment?.Variables?.[ENV.subjectTokenLeewaySeconds])
      .filter((value) => value !== undefined);

  it("reaches the ingest function from context, and defaults to 300 seconds", () => {
    // Act
    const configured = configureApp(newApp({ ...TEST_CONTEXT, subjectTokenLeewaySeconds: "900" }));
    const defaulted = configureApp(newApp(TEST_CONTEXT));
    // Assess
    expect(leeways(configured).length).toBeGreaterThan(0);
    expect(new Set(leeways(configured))).toEqual(new Set(["900"]));
    expect(new Set(leeways(defaulted))).toEqual(new Set(["300"]));
  });

  it("is refused past an hour, naming the key", () => {
    expect(() => configureApp(newApp({ ...TEST_CONTEXT, subjectTokenLeewaySeconds: "3601" }))).toThrowError(
      /context subjectTokenLeewaySeconds must be a whole number from 0 to 3600/,
    );
  });
});

describe("README", () => {
  it("lists exactly the context keys of lib/context.ts", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const block = /<!-- context-keys:start[^>]*-->\n([\s\S]*?)\n<!-- context-keys:end -->/.exec(readme)?.[1];
    // On a difference, replace the block in README.md with contextKeysMarkdown()'s output.
    expect(block).toBe(contextKeysMarkdown());
    for (const name of CONTEXT_KEY_NAMES) expect(block).toContain(`| \`${name}\` |`);
  });
});
