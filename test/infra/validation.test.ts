/** Construct prop validation and the app's context parsing: no synthesis, no bundling. */
import { App, CfnParameter, Lazy, Stack } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { appConfigFromContext, PLACEHOLDER_AUDIENCE, PLACEHOLDER_ISSUER } from "../../lib/app";
import { Sealtrail, type SealtrailProps } from "../../lib/sealtrail";
import { newApp } from "./helpers";

const valid: SealtrailProps = { issuer: "https://issuer.example.com", audience: ["sealtrail"] };
const build = (props: Partial<SealtrailProps>) => () =>
  new Sealtrail(new Stack(newApp(), "Test"), "Sealtrail", { ...valid, ...props });

describe("Sealtrail props validation", () => {
  it.each([0, -1, 1.5, 36_501])("rejects retentionDays %s, naming the value and the fix", (retentionDays) => {
    expect(build({ retentionDays })).toThrow(
      new RegExp(
        `retentionDays must be a whole number from 1 to 36500, got ${retentionDays}: pass the Object Lock`,
      ),
    );
  });

  it.each([0, 1025, 2.5])("rejects chains %s (1..1024)", (chains) => {
    expect(build({ chains })).toThrow(
      new RegExp(`chains must be a whole number from 1 to 1024, got ${chains}`),
    );
  });

  it("accepts the boundaries chains 1 and 1024 and retentionDays 1", () => {
    expect(build({ chains: 1, retentionDays: 1 })).not.toThrow();
    expect(build({ chains: 1024 })).not.toThrow();
  });

  it("rejects an issuer that is not an https URL", () => {
    expect(build({ issuer: "http://issuer.example.com" })).toThrow(/issuer must be the https URL/);
  });

  it("rejects an empty audience list and empty audiences", () => {
    expect(build({ audience: [] })).toThrow(/audience must list at least one/);
    expect(build({ audience: ["ok", " "] })).toThrow(/audience contains an empty string/);
  });

  it("rejects malformed optional props", () => {
    expect(build({ indexTtlDays: 0 })).toThrow(/indexTtlDays must be a whole number/);
    expect(build({ tenantClaim: "" })).toThrow(/tenantClaim is empty/);
    expect(build({ scopes: { write: "has space" } })).toThrow(/scopes.write must be one non-empty scope/);
    expect(build({ alarmEmail: "nobody" })).toThrow(/alarmEmail must be an email address/);
    expect(
      build({ subjectIssuers: [{ issuer: "https://idp", jwksUrl: "http://idp/jwks", audiences: [] }] }),
    ).toThrow(
      /subjectIssuers\[0\]\.jwksUrl must be an https URL[\s\S]*subjectIssuers\[0\]\.audiences is empty/,
    );
  });

  it("reports every problem at once", () => {
    expect(build({ retentionDays: 0, chains: 0 })).toThrow(/retentionDays[\s\S]*\n- chains/);
  });

  it("skips values that are unresolved tokens", () => {
    const stack = new Stack(newApp(), "Tokens");
    const chains = new CfnParameter(stack, "Chains", { type: "Number" }).valueAsNumber;
    const indexTtlDays = Lazy.number({ produce: () => 30 });
    expect(() => new Sealtrail(stack, "Sealtrail", { ...valid, chains, indexTtlDays })).not.toThrow();
  });

  it("rejects a Token retentionDays, which aws-cdk-lib must know at synthesis", () => {
    const retentionDays = Lazy.number({ produce: () => 30 });
    expect(build({ retentionDays })).toThrow(/retentionDays must be a plain number, not a Token/);
  });
});

describe("app context", () => {
  const configFor = (context: Record<string, unknown>) => appConfigFromContext(new App({ context }).node);

  it("reads issuer and a comma-separated audience as -c passes them", () => {
    const config = configFor({ issuer: "https://idp.example.com", audience: "a, b,," });
    expect(config.props.issuer).toBe("https://idp.example.com");
    expect(config.props.audience).toEqual(["a", "b"]);
    expect(config.placeholders).toEqual([]);
  });

  it("accepts an audience list from cdk.json", () => {
    expect(configFor({ issuer: "https://idp", audience: ["a", "b"] }).props.audience).toEqual(["a", "b"]);
  });

  it("uses placeholders, and reports them, when issuer and audience are missing", () => {
    const config = configFor({});
    expect(config.props).toMatchObject({ issuer: PLACEHOLDER_ISSUER, audience: [PLACEHOLDER_AUDIENCE] });
    expect(config.placeholders).toEqual(["issuer", "audience"]);
  });

  it("leaves retentionDays to the construct default unless given, and parses it when given", () => {
    expect(configFor({}).props.retentionDays).toBeUndefined();
    expect(configFor({ retentionDays: "3650" }).props.retentionDays).toBe(3650);
  });

  it("fails on a malformed number, naming the -c flag", () => {
    expect(() => configFor({ retentionDays: "7y" })).toThrow(
      /retentionDays must be a whole number.*-c retentionDays=/,
    );
    expect(() => configFor({ chains: "-3" })).toThrow(/-c chains=/);
  });

  it("parses subjectIssuers as JSON and rejects anything but an array", () => {
    const subject = { issuer: "https://idp", jwksUrl: "https://idp/jwks", audiences: ["app"] };
    expect(configFor({ subjectIssuers: JSON.stringify([subject]) }).props.subjectIssuers).toEqual([subject]);
    expect(() => configFor({ subjectIssuers: "{nope" })).toThrow(/subjectIssuers must be a JSON array/);
  });
});
