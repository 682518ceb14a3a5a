/**
 * SealtrailStack passes every Sealtrail prop through: a prop added to SealtrailProps reaches the
 * construct without anyone listing it in lib/sealtrail-stack.ts. The construct is replaced by a recorder
 * here, so the test checks the hand-over itself (the template tests check what the construct builds).
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Key } from "aws-cdk-lib/aws-kms";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { describe, expect, it, vi } from "vitest";
import type { SealtrailProps } from "../../lib/sealtrail";
import { newApp } from "./helpers";

const received = vi.hoisted(() => [] as unknown[]);

vi.mock("../../lib/sealtrail", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../lib/sealtrail")>();
  // vi.mock runs before this file's imports: the factory imports what it needs itself.
  const constructs = await import("constructs");
  class RecordingSealtrail extends constructs.Construct {
    constructor(scope: Construct, id: string, props: SealtrailProps) {
      super(scope, id);
      received.push(props);
    }
  }
  return { ...actual, Sealtrail: RecordingSealtrail, addSealtrailOutputs: () => undefined };
});

const { SealtrailStack } = await import("../../lib/sealtrail-stack");

describe("SealtrailStack", () => {
  it("hands every Sealtrail prop, as given, to the Sealtrail construct", () => {
    // Prepare: every prop set. `Required<SealtrailProps>` makes a new prop a compile error here until
    // it is added, so this list cannot fall behind the interface.
    const app = newApp();
    const resources = new Stack(app, "Given");
    const full: Required<SealtrailProps> = {
      issuer: "https://issuer.example.com",
      audience: ["sealtrail"],
      retentionDays: 30,
      chains: 4,
      tenantClaim: "tenant",
      subjectIssuers: [
        { issuer: "https://idp.example.com", jwksUrl: "https://idp.example.com/jwks", audiences: ["app"] },
      ],
      subjectTokenLeewaySeconds: 60,
      indexTtlDays: 90,
      scopes: { write: "w", read: "r", admin: "a" },
      leaseSeconds: 120,
      alarmEmail: "ops@example.com",
      throttleRateLimit: 50,
      throttleBurstLimit: 60,
      logRetention: RetentionDays.ONE_MONTH,
      authFailureAlarmThreshold: 7,
      watchedActions: [{ pattern: "user.login", outcome: "failure", threshold: 3 }],
      verificationPeriod: Duration.minutes(30),
      verificationMaxAge: Duration.minutes(20),
      replica: { bucketArn: "arn:aws:s3:::replica", keyArn: "arn:aws:kms:eu-west-2:111111111111:key/k" },
      archiveKey: new Key(resources, "ArchiveKey"),
      alarmTopic: new Topic(resources, "AlarmTopic"),
      search: { bytesScannedCutoffPerQuery: 100_000_000, removalPolicy: RemovalPolicy.DESTROY },
      privacy: { searchable: ["actor.sub"], erasureHorizonDays: 14 },
    };
    received.length = 0;

    // Act
    new SealtrailStack(app, "Full", { ...full, description: "a stack prop, not a Sealtrail prop" });

    // Assess: each key arrives with the very value given (the same object, not a copy).
    expect(received).toHaveLength(1);
    const props = received[0] as Record<string, unknown>;
    for (const [key, value] of Object.entries(full)) expect(props[key], key).toBe(value);
  });
});
