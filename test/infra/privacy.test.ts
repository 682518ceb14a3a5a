/**
 * Privacy's infrastructure (lib/privacy.ts, issue 16): off, the stack has none of it; on, the wrapping
 * key and the pseudonym key reserved to the ingest and query roles, their configuration on exactly
 * those two functions, the table's recovery window as the erasure horizon, the subject routes with
 * their scopes on the query integration, and cdk-nag. A custom policy and horizon come from context; a
 * bad one is refused with its fix.
 */
import type { App } from "aws-cdk-lib";
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { legalHoldKey, subjectKeyItemKey } from "../../lambda/core/index-items";
import { PARTITION_KEY } from "../../lambda/core/index-table";
import { DEFAULT_PRIVACY_POLICY, PrivacyPolicySchema } from "../../lambda/core/privacy/policy";
import { QUERY_ROUTES, SUBJECT_ROUTES } from "../../lambda/core/routes";
import {
  DEFAULT_ERASE_SCOPE,
  DEFAULT_ERASURE_HORIZON_DAYS,
  DEFAULT_SCOPES,
  ENV,
} from "../../lambda/runtime/config";
import { appConfigFromContext, configureApp } from "../../lib/app";
import { SUBJECT_ITEM_PUTS, SUBJECT_PARTITIONS } from "../../lib/privacy";
import { Sealtrail, type SealtrailProps } from "../../lib/sealtrail";
import {
  allowsAction,
  asArray,
  flatten,
  functionRole,
  logicalId,
  matches,
  newApp,
  roleStatements,
  type Statement,
  synthesizeTestStack,
  TEST_CONTEXT,
} from "./helpers";

const PRIVACY_ENV = [
  ENV.privacy,
  ENV.privacyWrapKeyId,
  ENV.privacyPseudonymKeyId,
  ENV.eraseScope,
  ENV.erasureHorizonDays,
] as const;
const WRAP_ACTIONS = ["kms:Decrypt", "kms:Encrypt"];
const SUBJECT_ROUTE_KEYS: readonly string[] = Object.values(SUBJECT_ROUTES);

type Variables = Record<string, unknown>;
const functionsOf = (template: Template) => template.findResources("AWS::Lambda::Function");
const variablesOf = (template: Template, fn: string): Variables =>
  (functionsOf(template)[fn]?.Properties.Environment as { Variables?: Variables } | undefined)?.Variables ??
  {};
const routesOf = (template: Template) => Object.values(template.findResources("AWS::ApiGatewayV2::Route"));
const routeKeysOf = (template: Template) => routesOf(template).map((r) => r.Properties.RouteKey as string);
const tablePitr = (template: Template) =>
  template.findResources("AWS::DynamoDB::Table")[
    logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable")
  ]?.Properties.PointInTimeRecoverySpecification;
const privacyTemplate = (privacy: unknown) =>
  Template.fromStack(configureApp(newApp({ ...TEST_CONTEXT, privacy })));

describe("privacy off (the default)", () => {
  let template: Template;
  beforeAll(() => {
    ({ template } = synthesizeTestStack());
  }, 120_000);

  it("adds no key, no subject route, no privacy variable, no recovery period and no DeleteItem", () => {
    expect(
      Object.keys(template.findResources("AWS::KMS::Key")).filter((id) => id.includes("Privacy")),
    ).toEqual([]);
    expect(routeKeysOf(template).filter((key) => SUBJECT_ROUTE_KEYS.includes(key))).toEqual([]);
    for (const fn of Object.keys(functionsOf(template))) {
      for (const name of PRIVACY_ENV)
        expect(variablesOf(template, fn), `${fn} ${name}`).not.toHaveProperty(name);
    }
    expect(tablePitr(template)).toEqual({ PointInTimeRecoveryEnabled: true });
    for (const role of Object.keys(template.findResources("AWS::IAM::Role"))) {
      expect(
        roleStatements(template, role).filter((s) => allowsAction(s, "dynamodb:DeleteItem")),
        role,
      ).toEqual([]);
    }
    expect(Object.keys(template.toJSON().Outputs ?? {}).filter((name) => name.startsWith("Privacy"))).toEqual(
      [],
    );
  });

  it("is also what -c privacy=false gives", () => {
    const config = appConfigFromContext(newApp({ ...TEST_CONTEXT, privacy: "false" }).node);
    expect(config.props.privacy).toBe(false);
  });
});

describe("privacy on (-c privacy=true)", () => {
  let app: App;
  let template: Template;
  let wrapKey: string;
  let pseudonymKey: string;
  let ingestFn: string;
  let queryFn: string;
  let ingestRole: string;
  let queryRole: string;

  const keyOf = (id: string) => template.findResources("AWS::KMS::Key")[id];
  const keyPolicy = (id: string) => (keyOf(id)?.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
  const roles = () => Object.keys(template.findResources("AWS::IAM::Role"));
  const arnOf = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
  /** Roles whose own policies allow `action` on the key `key`. */
  const rolesAllowed = (action: string, key: string) =>
    roles().filter((role) =>
      roleStatements(template, role).some(
        (s) => allowsAction(s, action) && asArray(s.Resource).some((r) => flatten(r) === `<${key}.Arn>`),
      ),
    );

  beforeAll(() => {
    // Prepare, Act
    app = newApp({ ...TEST_CONTEXT, privacy: "true" });
    template = Template.fromStack(configureApp(app));
    wrapKey = logicalId(template, "AWS::KMS::Key", "SealtrailPrivacyWrapKey");
    pseudonymKey = logicalId(template, "AWS::KMS::Key", "SealtrailPrivacyPseudonymKey");
    ingestFn = logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction");
    queryFn = logicalId(template, "AWS::Lambda::Function", "SealtrailQueryFunction");
    ingestRole = functionRole(template, "SealtrailIngestFunction");
    queryRole = functionRole(template, "SealtrailQueryFunction");
  }, 120_000);

  describe("keys", () => {
    it("wraps with a symmetric ENCRYPT_DECRYPT key, rotated and retained", () => {
      const key = keyOf(wrapKey);
      expect(key?.Properties.KeySpec ?? "SYMMETRIC_DEFAULT").toBe("SYMMETRIC_DEFAULT");
      expect(key?.Properties.KeyUsage ?? "ENCRYPT_DECRYPT").toBe("ENCRYPT_DECRYPT");
      expect(key).toMatchObject({
        Properties: { EnableKeyRotation: true },
        DeletionPolicy: "Retain",
        UpdateReplacePolicy: "Retain",
      });
    });

    it("derives pseudonyms from an HMAC_256 GENERATE_VERIFY_MAC key, retained", () => {
      expect(keyOf(pseudonymKey)).toMatchObject({
        Properties: { KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", EnableKeyRotation: false },
        DeletionPolicy: "Retain",
        UpdateReplacePolicy: "Retain",
      });
    });

    it.each([
      ["wrapping", () => wrapKey, WRAP_ACTIONS],
      ["pseudonym", () => pseudonymKey, ["kms:GenerateMac"]],
    ])("allows the %s key's use to the ingest and query roles alone, and denies it to everyone else", (_, key, actions) => {
      const both = [arnOf(ingestRole), arnOf(queryRole)];
      for (const action of actions) {
        const allowed = keyPolicy(key()).filter((s) => allowsAction(s, action));
        expect(allowed, action).toHaveLength(1);
        expect(allowed[0]?.Principal, action).toEqual({ AWS: both });
        const denials = keyPolicy(key()).filter(
          (s) => s.Effect === "Deny" && asArray(s.Action).some((a) => matches(a, action, true)),
        );
        expect(denials, action).toHaveLength(1);
        expect(denials[0]).toMatchObject({ Principal: { AWS: "*" }, Resource: "*" });
        expect(denials[0]?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": both } });
      }
      // The account administers the key but cannot use it or grant its use.
      const account = keyPolicy(key()).filter(
        (s) => s.Effect === "Allow" && flatten((s.Principal as { AWS?: unknown }).AWS).endsWith(":root"),
      );
      for (const action of [...actions, "kms:CreateGrant", "kms:ReEncryptFrom"]) {
        expect(
          account.some((s) => allowsAction(s, action)),
          action,
        ).toBe(false);
      }
    });

    it("unwraps only with the tenant and subject as encryption context, in the key policy and the roles'", () => {
      const context = {
        Null: {
          "kms:EncryptionContext:sealtrail:tenant": "false",
          "kms:EncryptionContext:sealtrail:subject": "false",
        },
        "ForAllValues:StringEquals": {
          "kms:EncryptionContextKeys": ["sealtrail:tenant", "sealtrail:subject"],
        },
      };
      const keyAllow = keyPolicy(wrapKey).filter((s) => allowsAction(s, "kms:Decrypt"));
      expect(keyAllow.map((s) => s.Condition)).toEqual([context]);
      for (const role of [ingestRole, queryRole]) {
        const wraps = roleStatements(template, role).filter(
          (s) => allowsAction(s, "kms:Decrypt") && flatten(asArray(s.Resource)[0]) === `<${wrapKey}.Arn>`,
        );
        expect(wraps, role).toHaveLength(1);
        expect(asArray(wraps[0]?.Action).sort(), role).toEqual(WRAP_ACTIONS);
        expect(wraps[0]?.Condition, role).toEqual(context);
      }
    });

    it("are in the ingest and query roles' own policies and in no other role's", () => {
      for (const action of WRAP_ACTIONS) {
        expect(rolesAllowed(action, wrapKey).sort(), action).toEqual([ingestRole, queryRole].sort());
      }
      expect(rolesAllowed("kms:GenerateMac", pseudonymKey).sort()).toEqual([ingestRole, queryRole].sort());
      for (const role of [ingestRole, queryRole]) {
        const macs = roleStatements(template, role).filter(
          (s) =>
            allowsAction(s, "kms:GenerateMac") && flatten(asArray(s.Resource)[0]) === `<${pseudonymKey}.Arn>`,
        );
        expect(
          macs.map((s) => s.Action),
          role,
        ).toEqual(["kms:GenerateMac"]);
      }
    });

    it("are named by the stack's outputs", () => {
      expect(template.toJSON().Outputs).toMatchObject({
        PrivacyWrapKeyArn: { Value: arnOf(wrapKey) },
        PrivacyPseudonymKeyArn: { Value: arnOf(pseudonymKey) },
      });
    });
  });

  describe("functions", () => {
    it("configure ingest and query under the names lambda/runtime/config.ts reads", () => {
      for (const fn of [ingestFn, queryFn]) {
        expect(variablesOf(template, fn), fn).toMatchObject({
          [ENV.privacyWrapKeyId]: arnOf(wrapKey),
          [ENV.privacyPseudonymKeyId]: arnOf(pseudonymKey),
          [ENV.eraseScope]: DEFAULT_ERASE_SCOPE,
          [ENV.erasureHorizonDays]: String(DEFAULT_ERASURE_HORIZON_DAYS),
        });
        const policy = JSON.parse(variablesOf(template, fn)[ENV.privacy] as string);
        expect(PrivacyPolicySchema.parse(policy), fn).toEqual(DEFAULT_PRIVACY_POLICY);
        expect(policy, fn).toEqual(DEFAULT_PRIVACY_POLICY);
      }
    });

    it("configure no other function", () => {
      const others = Object.keys(functionsOf(template)).filter((fn) => fn !== ingestFn && fn !== queryFn);
      expect(others.length).toBeGreaterThan(2);
      for (const fn of others) {
        for (const name of PRIVACY_ENV)
          expect(variablesOf(template, fn), `${fn} ${name}`).not.toHaveProperty(name);
      }
    });

    it("let the query role delete in the data subjects' partitions only (releasing a legal hold)", () => {
      const deleting = roles().filter((role) =>
        roleStatements(template, role).some((s) => allowsAction(s, "dynamodb:DeleteItem")),
      );
      expect(deleting).toEqual([queryRole]);
      const [statement, ...more] = roleStatements(template, queryRole).filter((s) =>
        allowsAction(s, "dynamodb:DeleteItem"),
      );
      expect(more).toEqual([]);
      expect(asArray(statement?.Action)).toEqual(["dynamodb:DeleteItem"]);
      expect(asArray(statement?.Resource).map(flatten)).toEqual([
        `<${logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable")}.Arn>`,
      ]);
      const leading = asArray(
        statement?.Condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"],
      ) as string[];
      expect(leading).toHaveLength(1);
      const [pattern] = leading as [string];
      for (const key of [legalHoldKey("acme", "alice"), subjectKeyItemKey("acme", "alice")]) {
        expect(matches(pattern, key[PARTITION_KEY] as string), pattern).toBe(true);
      }
      expect(matches(pattern, "event#01K0000000000000000000000"), pattern).toBe(false);
    });
  });

  it("denies every index writer putting a data subject's item, and the reindex job changing one", () => {
    const reindexRole = functionRole(template, "SealtrailReindexFunction");
    const denials = (role: string) =>
      roleStatements(template, role).filter(
        (s) =>
          s.Effect === "Deny" &&
          asArray(s.Condition?.["ForAnyValue:StringLike"]?.["dynamodb:LeadingKeys"]).includes(
            SUBJECT_PARTITIONS,
          ),
      );
    for (const role of [ingestRole, queryRole]) {
      const [deny, ...more] = denials(role);
      expect(more, role).toEqual([]);
      expect(asArray(deny?.Action).sort(), role).toEqual([...SUBJECT_ITEM_PUTS].sort());
      expect(asArray(deny?.Resource).map(flatten), role).toEqual([
        `<${logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable")}.Arn>`,
      ]);
    }
    const reindexDenied = denials(reindexRole).flatMap((s) => asArray(s.Action));
    expect(reindexDenied.sort()).toEqual(
      [...SUBJECT_ITEM_PUTS, "dynamodb:UpdateItem", "dynamodb:DeleteItem"].sort(),
    );
    // What the adapter uses to write them stays allowed: conditional updates, and the hold's release.
    for (const key of [legalHoldKey("acme", "alice"), subjectKeyItemKey("acme", "alice")]) {
      expect(matches(SUBJECT_PARTITIONS, key[PARTITION_KEY] as string)).toBe(true);
    }
    expect(matches(SUBJECT_PARTITIONS, "event#01K0000000000000000000000")).toBe(false);
  });

  it("keeps the index table's point-in-time recovery for the erasure horizon", () => {
    expect(tablePitr(template)).toEqual({
      PointInTimeRecoveryEnabled: true,
      RecoveryPeriodInDays: DEFAULT_ERASURE_HORIZON_DAYS,
    });
  });

  describe("subject routes", () => {
    const route = (key: string) => routesOf(template).find((r) => r.Properties.RouteKey === key);
    const authorizer = () =>
      logicalId(template, "AWS::ApiGatewayV2::Authorizer", "SealtrailApiJwtAuthorizer");

    it("are added beside the query routes", () => {
      expect(routeKeysOf(template).sort()).toEqual(
        [...QUERY_ROUTES, ...SUBJECT_ROUTE_KEYS, "POST /v1/events"].sort(),
      );
    });

    it.each([
      [SUBJECT_ROUTES.erase, DEFAULT_ERASE_SCOPE],
      [SUBJECT_ROUTES.hold, DEFAULT_SCOPES.admin],
    ])("%s requires a JWT with %s", (key, scope) => {
      expect(route(key)?.Properties).toMatchObject({
        AuthorizationType: "JWT",
        AuthorizerId: { Ref: authorizer() },
        AuthorizationScopes: [scope],
      });
    });

    it("go to the query routes' one integration of the query function, which each may invoke", () => {
      const targets = new Set(
        [...QUERY_ROUTES, ...SUBJECT_ROUTE_KEYS].map((key) => flatten(route(key)?.Properties.Target)),
      );
      expect(targets.size).toBe(1);
      const integration = /^integrations\/<(\w+)>$/.exec([...targets][0] as string)?.[1] as string;
      expect(template.findResources("AWS::ApiGatewayV2::Integration")[integration]?.Properties).toMatchObject(
        {
          IntegrationType: "AWS_PROXY",
          IntegrationUri: arnOf(queryFn),
        },
      );
      const sources = Object.values(template.findResources("AWS::Lambda::Permission"))
        .filter((p) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify(arnOf(queryFn)))
        .map((p) => flatten(p.Properties.SourceArn).replace(/^.*:<SealtrailApi\w+>/, ""));
      for (const key of SUBJECT_ROUTE_KEYS) expect(sources).toContain(`/*/*${key.split(" ")[1]}`);
    });
  });

  describe("cdk-nag AwsSolutions", () => {
    it("finds nothing unacknowledged in the privacy keys, the functions or the subject routes", () => {
      const report = new AwsSolutionsChecks().validateScope(app);
      const findings = report.violations
        .filter((v) =>
          v.violatingResources.some((r) =>
            /\/(Privacy|Query|IngestFunction|Api)/.test(r.constructPath ?? ""),
          ),
        )
        .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
      expect(findings).toEqual([]);
    });

    it("synthesizes the whole app, which fails on any unacknowledged finding", () => {
      expect(() => app.synth()).not.toThrow();
    });
  });
});

describe("a custom policy, scope and horizon from context", () => {
  const custom = {
    personal: ["actor.sub", "actor.session_id", "resource.id", "details"],
    searchable: ["actor.sub", "resource.id"],
    eraseScope: "audit/erase",
    erasureHorizonDays: 21,
  };
  let template: Template;
  beforeAll(() => {
    template = privacyTemplate(JSON.stringify(custom));
  }, 120_000);

  it("reach the functions, the erase route and the table's recovery window", () => {
    const { eraseScope, erasureHorizonDays, ...policy } = custom;
    for (const prefix of ["SealtrailIngestFunction", "SealtrailQueryFunction"]) {
      const variables = variablesOf(template, logicalId(template, "AWS::Lambda::Function", prefix));
      expect(JSON.parse(variables[ENV.privacy] as string), prefix).toEqual(policy);
      expect(variables, prefix).toMatchObject({
        [ENV.eraseScope]: eraseScope,
        [ENV.erasureHorizonDays]: String(erasureHorizonDays),
      });
    }
    const erase = routesOf(template).find((r) => r.Properties.RouteKey === SUBJECT_ROUTES.erase);
    expect(erase?.Properties.AuthorizationScopes).toEqual([eraseScope]);
    expect(tablePitr(template)).toEqual({ PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 21 });
  });

  it("are read from cdk.json's JSON object as well as from -c's text", () => {
    expect(appConfigFromContext(newApp({ ...TEST_CONTEXT, privacy: custom }).node).props.privacy).toEqual(
      custom,
    );
    expect(appConfigFromContext(newApp({ ...TEST_CONTEXT, privacy: true }).node).props.privacy).toBe(true);
  });
});

describe("an invalid privacy setting", () => {
  const valid: SealtrailProps = { issuer: "https://issuer.example.com", audience: ["sealtrail"] };
  const build = (privacy: unknown) => () =>
    new Sealtrail(new Stack(newApp(), "Test"), "Sealtrail", {
      ...valid,
      privacy: privacy as SealtrailProps["privacy"],
    });

  it.each([
    [{ personal: ["actor.email"] }, /privacy\.personal\[0\]: Invalid option: expected one of "actor\.sub"/],
    [
      { personal: ["actor.sub"], searchable: ["actor.session_id"] },
      /privacy: every searchable field must also be personal/,
    ],
    [{ erasureHorizonDays: 36 }, /privacy\.erasureHorizonDays must be a whole number from 1 to 35, got 36/],
    [{ erasureHorizonDays: 0 }, /privacy\.erasureHorizonDays must be a whole number from 1 to 35, got 0/],
    [{ eraseScope: "has space" }, /privacy\.eraseScope must be one non-empty scope without spaces/],
    [
      { eraseScope: DEFAULT_SCOPES.read },
      /privacy\.eraseScope "sealtrail\/read" is also a scope of other routes/,
    ],
    [{ colour: "blue" }, /privacy\.colour is not a privacy option: use personal, searchable/],
    [
      "yes",
      /privacy must be true, false or an object of personal, searchable, eraseScope, erasureHorizonDays/,
    ],
  ])("refuses the prop %j, naming the problem", (privacy, message) => {
    expect(build(privacy)).toThrow(/^Invalid Sealtrail props:/);
    expect(build(privacy)).toThrow(message);
  });

  it("refuses an invalid policy from context before anything is synthesized", () => {
    const app = newApp({ ...TEST_CONTEXT, privacy: '{"personal":["actor.email"]}' });
    expect(() => configureApp(app)).toThrow(
      /Invalid Sealtrail props:\n- privacy\.personal\[0\]: Invalid option/,
    );
  });

  it("refuses a context value that is neither a flag nor a JSON object, with an example", () => {
    expect(() => appConfigFromContext(newApp({ ...TEST_CONTEXT, privacy: "on" }).node)).toThrow(
      /context privacy must be true, false or a JSON object, got on: pass e\.g\. -c privacy=true/,
    );
  });
});
