/**
 * The access metrics as the real ingest and query handlers emit them, against the emulator, compared
 * with the metrics the synthesized stack's alarms and dashboard watch. Each handler runs with the
 * configuration the template gives its function, and its Powertools Metrics (from the handler's own
 * factory) is captured as the EMF documents it publishes; no metric is written out in the test.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { Template } from "aws-cdk-lib/assertions";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler, createIngestMetrics, type IngestHandler } from "../../lambda/handlers/ingest";
import { createQueryHandler, createQueryMetrics, type QueryHandler } from "../../lambda/handlers/query";
import { configFromEnv, ENV, type SealtrailConfig } from "../../lambda/runtime/config";
import { configureApp } from "../../lib/app";
import { flatten, logicalId, newApp, TEST_CONTEXT } from "../infra/helpers";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { snapshot } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { queryEvent, READ_CLAIMS } from "../support/query-event";

const SUBJECT_ISSUER = "https://idp.test";
const TENANT_CLAIM = "custom:tenant";

/** One metric as CloudWatch identifies it: namespace, name and every dimension. */
interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}
interface Emitted extends MetricId {
  readonly value: number;
}

const keyOf = (m: MetricId) =>
  JSON.stringify([m.namespace, m.name, Object.entries(m.dimensions).sort(([a], [b]) => a.localeCompare(b))]);

interface EmfDocument {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

/** Records every EMF document `metrics` publishes (what Powertools prints on stdout). */
function captureEmf(metrics: Metrics): { take(): Emitted[] } {
  let documents: EmfDocument[] = [];
  const publish = metrics.publishStoredMetrics.bind(metrics);
  metrics.publishStoredMetrics = () => {
    const document = metrics.serializeMetrics() as unknown as EmfDocument;
    if (document._aws.CloudWatchMetrics.some((d) => d.Metrics.length > 0)) documents.push(document);
    return publish();
  };
  return {
    /** The metrics of the documents published since the last take, one per dimension set. */
    take() {
      const emitted = documents.flatMap((document) =>
        document._aws.CloudWatchMetrics.flatMap(({ Namespace, Dimensions, Metrics }) =>
          Dimensions.flatMap((names) =>
            Metrics.map(({ Name }) => ({
              namespace: Namespace,
              name: Name,
              dimensions: Object.fromEntries(names.map((n) => [n, String(document[n])])),
              value: document[Name] as number,
            })),
          ),
        ),
      );
      documents = [];
      return emitted;
    },
  };
}

/** The metrics each alarm of the template watches (a metric alarm's, or each of its math metrics). */
function alarmMetrics(template: Template): Map<string, MetricId[]> {
  const byAlarm = new Map<string, MetricId[]>();
  const toId = (m: {
    Namespace: string;
    MetricName: string;
    Dimensions?: { Name: string; Value: unknown }[];
  }) => ({
    namespace: m.Namespace,
    name: m.MetricName,
    dimensions: Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, flatten(d.Value)])),
  });
  for (const [id, alarm] of Object.entries(template.findResources("AWS::CloudWatch::Alarm"))) {
    const p = alarm.Properties;
    const metrics =
      p.MetricName !== undefined
        ? [toId(p)]
        : (p.Metrics as { MetricStat?: { Metric: Parameters<typeof toId>[0] } }[])
            .filter((m) => m.MetricStat)
            .map((m) => toId(m.MetricStat?.Metric as Parameters<typeof toId>[0]));
    byAlarm.set(id, metrics);
  }
  return byAlarm;
}

/** The metrics the dashboard graphs: ["Namespace", "Name", "dim", "value", …, {options}?]. */
function dashboardMetrics(template: Template): Set<string> {
  const [dashboard] = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
  const body = JSON.parse(flatten(dashboard?.Properties.DashboardBody)) as {
    widgets: { properties: { metrics?: unknown[][] } }[];
  };
  const keys = new Set<string>();
  for (const widget of body.widgets) {
    for (const row of widget.properties.metrics ?? []) {
      const parts = row.filter((part) => typeof part === "string") as string[];
      if (parts.length < 2) continue;
      const [namespace, name, ...pairs] = parts as [string, string, ...string[]];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
      keys.add(keyOf({ namespace, name, dimensions }));
    }
  }
  return keys;
}

/** The handler's configuration as the template sets its function's environment, on a test archive. */
function configOf(template: Template, functionPrefix: string, archive: TestArchive): SealtrailConfig {
  const fn = template.toJSON().Resources[logicalId(template, "AWS::Lambda::Function", functionPrefix)];
  const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
  const literal = Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
  return configFromEnv({
    ...literal,
    [ENV.bucket]: archive.bucket,
    [ENV.table]: archive.table,
    AWS_ENDPOINT_URL: archive.target.endpoint,
    AWS_REGION: archive.target.region,
  });
}

describe("access metrics of the real handlers", () => {
  let archive: TestArchive;
  let template: Template;
  let watchedByAlarm: Map<string, MetricId[]>;
  let graphed: Set<string>;
  let ingest: IngestHandler;
  let query: QueryHandler;
  let ingestEmf: ReturnType<typeof captureEmf>;
  let queryEmf: ReturnType<typeof captureEmf>;
  let subjectKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  /** Every metric the handlers emitted in this suite. */
  const emittedKeys = new Set<string>();

  const take = (capture: ReturnType<typeof captureEmf>) => {
    const emitted = capture.take();
    for (const m of emitted) emittedKeys.add(keyOf(m));
    return emitted;
  };
  /** The alarms that watch this emitted metric (by namespace, name and every dimension). */
  const alarmsWatching = (m: MetricId) =>
    [...watchedByAlarm].filter(([, metrics]) => metrics.some((w) => keyOf(w) === keyOf(m))).map(([id]) => id);
  const alarmId = (suffix: string) =>
    logicalId(template, "AWS::CloudWatch::Alarm", `SealtrailAccessAlarms${suffix}`);
  const valueNamed = (emitted: Emitted[], name: string, dimensions: Record<string, string> = {}) =>
    emitted.find(
      (m) => m.name === name && Object.entries(dimensions).every(([k, v]) => m.dimensions[k] === v),
    )?.value;

  beforeAll(async () => {
    archive = await createTestArchive();
    const subjectIssuers = [
      { issuer: SUBJECT_ISSUER, jwksUrl: `${SUBJECT_ISSUER}/jwks.json`, audiences: ["app"] },
    ];
    template = Template.fromStack(
      configureApp(
        newApp({
          ...TEST_CONTEXT,
          tenantClaim: TENANT_CLAIM,
          subjectIssuers: JSON.stringify(subjectIssuers),
        }),
      ),
    );
    watchedByAlarm = alarmMetrics(template);
    graphed = dashboardMetrics(template);

    const pair = await generateKeyPair("RS256", { extractable: true });
    subjectKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "RS256" };
    const overrides = { subjectKeySet: () => createLocalJWKSet({ keys: [jwk] }) };

    const ingestMetrics = createIngestMetrics();
    ingestEmf = captureEmf(ingestMetrics);
    ingest = createIngestHandler(configOf(template, "SealtrailIngestFunction", archive), overrides, {
      metrics: ingestMetrics,
    });
    const queryMetrics = createQueryMetrics();
    queryEmf = captureEmf(queryMetrics);
    query = createQueryHandler(configOf(template, "SealtrailQueryFunction", archive), overrides, {
      metrics: queryMetrics,
    });
  }, 120_000);

  const claims = (tenant: string, extra: Record<string, string> = {}) => ({
    ...WRITE_CLAIMS,
    [TENANT_CLAIM]: tenant,
    ...extra,
  });

  it("ingest: events and watched actions by pattern and outcome, as the alarms watch them", async () => {
    // Prepare
    const events = [
      { action: "user.login", outcome: "failure" },
      { action: "user.login", outcome: "failure" },
      { action: "user.login", outcome: "success" },
      { action: "permission.grant", outcome: "success" },
      { action: "role.assign", outcome: "denied" },
      { action: "document.read", outcome: "success" },
    ];
    // Act
    const response = await ingest(postEventsEvent({ body: { events }, claims: claims("acme") }));
    // Assess
    expect(response.statusCode, response.body as string).toBe(201);
    const emitted = take(ingestEmf);
    expect(valueNamed(emitted, "EventsIngested")).toBe(6);
    expect(alarmsWatching(emitted.find((m) => m.name === "EventsIngested") as Emitted).sort()).toEqual(
      [alarmId("IngestDropAlarm"), alarmId("IngestSpikeAlarm")].sort(),
    );
    const watched = emitted.filter((m) => m.name === "WatchedActions");
    expect(watched.map((m) => [m.dimensions.pattern, m.dimensions.outcome, m.value]).sort()).toEqual(
      [
        ["user.login", "failure", 2],
        ["user.login", "success", 1],
        ["permission.*", "success", 1],
        ["role.*", "denied", 1],
      ].sort(),
    );
    const failedLogins = watched.find((m) => m.dimensions.outcome === "failure") as Emitted;
    expect(alarmsWatching(failedLogins)).toEqual([alarmId("WatchedActionuserloginfailure")]);
    // A login that succeeded is counted and graphed, but the default alarm watches failures only.
    const logins = watched.find(
      (m) => m.dimensions.pattern === "user.login" && m.dimensions.outcome === "success",
    );
    expect(alarmsWatching(logins as Emitted)).toEqual([]);
    expect(alarmsWatching(watched.find((m) => m.dimensions.pattern === "permission.*") as Emitted)).toEqual([
      alarmId("WatchedActionpermissionany"),
    ]);
    expect(alarmsWatching(watched.find((m) => m.dimensions.pattern === "role.*") as Emitted)).toEqual([
      alarmId("WatchedActionroleany"),
    ]);
    // Only the service and the pattern and outcome: never the action, tenant or actor.
    for (const m of emitted)
      expect(Object.keys(m.dimensions).sort()).toEqual(
        m.name === "WatchedActions" ? ["outcome", "pattern", "service"] : ["service"],
      );
  });

  it("ingest: an idempotent replay is not counted again", async () => {
    const request = () =>
      postEventsEvent({
        body: { events: [{ action: "role.create", outcome: "success" }] },
        claims: claims("acme"),
        headers: { "idempotency-key": "replay-1" },
      });
    expect((await ingest(request())).statusCode).toBe(201);
    expect(valueNamed(take(ingestEmf), "EventsIngested")).toBe(1);
    const replay = await ingest(request());
    expect(replay.headers?.["idempotent-replayed"]).toBe("true");
    expect(take(ingestEmf)).toEqual([]);
  });

  async function subjectToken(tenant: string): Promise<string> {
    return new SignJWT({ [TENANT_CLAIM]: tenant, azp: "web", sid: "s-1", jti: "j-1" })
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .setIssuer(SUBJECT_ISSUER)
      .setSubject("alice")
      .setAudience("app")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(subjectKey);
  }

  it.each([
    { reason: "invalid_subject_token", token: async () => "not-a-jwt" },
    { reason: "subject_token_tenant_mismatch", token: () => subjectToken("globex") },
  ])("ingest: a refused subject token ($reason) is counted by reason, and nothing was written", async ({
    reason,
    token,
  }) => {
    // Prepare
    const before = await snapshot(archive);
    // Act
    const response = await ingest(
      postEventsEvent({
        body: { events: [{ action: "user.login", outcome: "failure" }] },
        claims: claims("acme"),
        headers: { "x-sealtrail-subject-token": await token() },
      }),
    );
    // Assess
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body as string).code).toBe(reason);
    expect(await snapshot(archive)).toEqual(before);
    const emitted = take(ingestEmf);
    expect(emitted.map((m) => [m.name, m.dimensions.reason, m.value])).toEqual([
      ["SubjectTokensRefused", reason, 1],
    ]);
    expect(alarmsWatching(emitted[0] as Emitted)).toEqual([
      alarmId(`SubjectTokenRefused${reason.replaceAll("_", "")}`),
    ]);
  });

  it("ingest: a subject token that verifies is not counted as refused", async () => {
    const response = await ingest(
      postEventsEvent({
        body: { events: [{ action: "document.read", outcome: "success" }] },
        claims: claims("acme"),
        headers: { "x-sealtrail-subject-token": await subjectToken("acme") },
      }),
    );
    expect(response.statusCode, response.body as string).toBe(201);
    expect(take(ingestEmf).map((m) => m.name)).toEqual(["EventsIngested"]);
  });

  const readClaims = (tenant: string, scope = "sealtrail/read") => ({
    ...READ_CLAIMS,
    scope,
    [TENANT_CLAIM]: tenant,
  });

  it("query: a read of the caller's own tenant counts a read and its records, not a cross-tenant read", async () => {
    const answer = await query(
      queryEvent("GET /v1/events", { query: { limit: "3" }, claims: readClaims("acme") }),
    );
    expect(answer.statusCode, answer.body as string).toBe(200);
    const emitted = take(queryEmf);
    expect(valueNamed(emitted, "AuditReads")).toBe(1);
    expect(valueNamed(emitted, "RecordsRead")).toBe(3);
    expect(valueNamed(emitted, "CrossTenantReads")).toBeUndefined();
    expect(alarmsWatching(emitted.find((m) => m.name === "AuditReads") as Emitted)).toEqual([
      alarmId("ReadSpikeAlarm"),
    ]);
    // An admin reading their own tenant is not a cross-tenant read either.
    const own = await query(
      queryEvent("GET /v1/events", {
        query: { tenant: "acme", limit: "1" },
        claims: readClaims("acme", "sealtrail/read sealtrail/admin"),
      }),
    );
    expect(own.statusCode).toBe(200);
    expect(valueNamed(take(queryEmf), "CrossTenantReads")).toBeUndefined();
  });

  it("query: an admin read of another tenant raises the cross-tenant alarm's metric", async () => {
    const answer = await query(
      queryEvent("GET /v1/events", {
        query: { tenant: "acme", limit: "2" },
        claims: readClaims("globex", "sealtrail/read sealtrail/admin"),
      }),
    );
    expect(answer.statusCode, answer.body as string).toBe(200);
    const emitted = take(queryEmf);
    expect(valueNamed(emitted, "CrossTenantReads")).toBe(1);
    expect(valueNamed(emitted, "AuditReads")).toBe(1);
    expect(alarmsWatching(emitted.find((m) => m.name === "CrossTenantReads") as Emitted)).toEqual([
      alarmId("CrossTenantReadAlarm"),
    ]);
    for (const m of emitted) expect(Object.keys(m.dimensions)).toEqual(["service"]);
  });

  it("query: a refused read counts nothing", async () => {
    const answer = await query(
      queryEvent("GET /v1/events", { query: { tenant: "acme" }, claims: readClaims("globex") }),
    );
    expect(answer.statusCode).toBe(403);
    expect(take(queryEmf)).toEqual([]);
  });

  it("a publish that fails is logged and changes no answer", async () => {
    // Prepare: Powertools refusing to publish (e.g. an invalid metric), on a handler of its own.
    const failing = createIngestMetrics();
    failing.publishStoredMetrics = () => {
      throw new RangeError("metrics unavailable");
    };
    const warnings: string[] = [];
    const logger = new Logger({ serviceName: "test" });
    logger.warn = (...args: unknown[]) => void warnings.push(String(args[0]));
    const handler = createIngestHandler(
      configOf(template, "SealtrailIngestFunction", archive),
      { logger },
      {
        metrics: failing,
      },
    );
    // Act
    const response = await handler(
      postEventsEvent({
        body: { events: [{ action: "role.assign", outcome: "success" }] },
        claims: claims("acme"),
      }),
    );
    // Assess
    expect(response.statusCode, response.body as string).toBe(201);
    expect(warnings).toContain("access metrics not published");
  });

  it("every metric emitted above is on the dashboard, and every access alarm watches one of them", () => {
    for (const key of emittedKeys) expect(graphed, key).toContain(key);
    const accessAlarms = [...watchedByAlarm].filter(([id]) => id.startsWith("SealtrailAccessAlarms"));
    expect(accessAlarms.length).toBeGreaterThan(0);
    for (const [id, metrics] of accessAlarms) {
      expect(
        metrics.some((m) => emittedKeys.has(keyOf(m))),
        `${id} watches ${JSON.stringify(metrics)}`,
      ).toBe(true);
    }
  });
});
