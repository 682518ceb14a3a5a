/**
 * The OpenAPI document: OpenAPI 3.1 in shape, generated from the schemas the handlers use, and a
 * validator (test/support/openapi-validator.ts) that accepts real bodies and refuses wrong ones.
 * The integration suite (test/integration/query.test.ts) checks every response the handlers
 * actually give against this same document.
 */
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import {
  EraseRequestSchema,
  type EventList,
  HoldRequestSchema,
  ListEventsQuerySchema,
} from "../../lambda/core/api-schema";
import { INGEST_ERRORS } from "../../lambda/core/ingest-errors";
import { openApiDocument } from "../../lambda/core/openapi";
import { DEFAULT_PRIVACY_POLICY } from "../../lambda/core/privacy/policy";
import { buildRecord } from "../../lambda/core/record";
import { SUBJECT_ROUTES } from "../../lambda/core/routes";
import type { SubjectRequest } from "../../lambda/privacy/subject-service";
import { DEFAULT_ERASE_SCOPE } from "../../lambda/runtime/config";
import { ensureEmulatorVenv } from "../infra/cdk-cli";
import { ingestRequest, memoryServices, queryRequest } from "../support/memory-services";
import { openApiValidator } from "../support/openapi-validator";
import { testPrincipal } from "../support/principal";

type Json = Record<string, unknown>;

const document = openApiDocument() as Json;
const paths = document.paths as Record<string, Record<string, Json>>;
const validator = openApiValidator(document);

const OPERATIONS = [
  ["post", "/v1/events", "sealtrail/write"],
  ["get", "/v1/events", "sealtrail/read"],
  ["get", "/v1/events/{id}", "sealtrail/read"],
  ["get", "/v1/events/{id}/proof", "sealtrail/read"],
  ["get", "/v1/checkpoints/latest", "sealtrail/read"],
] as const;

/** The document of a deployment with privacy on: the same API and the data-subject routes. */
const privacyDocument = openApiDocument({ privacy: true }) as Json;
const privacyPaths = privacyDocument.paths as Record<string, Record<string, Json>>;
const privacyValidator = openApiValidator(privacyDocument);
const SUBJECT_OPERATIONS = [
  ["post", "/v1/subjects/erase", DEFAULT_ERASE_SCOPE, "eraseSubject"],
  ["post", "/v1/subjects/hold", "sealtrail/admin", "setLegalHold"],
] as const;
const PRIVACY_COMPONENTS = [
  "EraseRequest",
  "HoldRequest",
  "EraseAnswer",
  "HoldAnswer",
  "LegalHoldError",
  "SubjectBodyError",
];

const principal = testPrincipal({ sub: "alice", session_id: "s-1", scopes: ["sealtrail/read"] });
const record = buildRecord(
  {
    action: "document.read",
    outcome: "success",
    resource: { type: "document", id: "42" },
    details: { a: [1] },
  },
  {
    id: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    time: "2026-01-01T00:00:00.000Z",
    reporter: principal,
    tenant: "default",
    ingest: { request_id: "r", source_ip: null, user_agent: null },
  },
);

/** Every `$ref` in the document, with where it is. */
function refs(value: unknown, at = "#"): Array<[string, string]> {
  if (Array.isArray(value)) return value.flatMap((item, i) => refs(item, `${at}/${i}`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value as Json).flatMap(([name, member]) =>
    name === "$ref" && typeof member === "string"
      ? [[at, member] as [string, string]]
      : refs(member, `${at}/${name}`),
  );
}

function resolvePointer(pointer: string, within: Json = document): unknown {
  return pointer
    .replace(/^#\//, "")
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part], within);
}

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with the whole HTTP API, each operation with an id, responses and its scope", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(document.info).toMatchObject({ title: "sealtrail", version: expect.any(String) });
    const schemes = (document.components as Json).securitySchemes as Json;
    expect(schemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    const operationIds = new Set<string>();
    for (const [method, path, scope] of OPERATIONS) {
      const operation = paths[path]?.[method] as Json;
      expect(operation, `${method} ${path}`).toBeDefined();
      operationIds.add(operation.operationId as string);
      expect(operation.security).toEqual([{ bearerAuth: [scope] }]);
      expect(Object.keys(operation.responses as Json).length).toBeGreaterThan(1);
      // Every {template} of the path is a required path parameter.
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        expect(operation.parameters).toContainEqual(
          expect.objectContaining({ name, in: "path", required: true }),
        );
      }
    }
    expect(operationIds.size).toBe(OPERATIONS.length);
    expect(Object.keys(paths).sort()).toEqual([...new Set(OPERATIONS.map(([, path]) => path))].sort());
  });

  it("resolves every $ref inside the document", () => {
    for (const doc of [document, privacyDocument]) {
      const all = refs(doc);
      expect(all.length).toBeGreaterThan(5);
      for (const [at, ref] of all) {
        expect(ref.startsWith("#/components/schemas/"), at).toBe(true);
        expect(resolvePointer(ref, doc), `${at} → ${ref}`).toBeDefined();
      }
    }
  });

  it("derives the query parameters of GET /v1/events from the zod schema the handler validates with", () => {
    const parameters = (paths["/v1/events"]?.get as Json).parameters as Json[];
    expect(parameters.map((p) => p.name)).toEqual(Object.keys(ListEventsQuerySchema.shape));
    expect(parameters.every((p) => p.in === "query" && p.required === false)).toBe(true);
    expect(parameters.find((p) => p.name === "limit")?.schema).toEqual({
      type: "integer",
      minimum: 1,
      maximum: 1000,
      default: 100,
    });
    expect(parameters.find((p) => p.name === "outcome")?.schema).toMatchObject({ enum: expect.any(Array) });
  });

  it("compiles every component schema with Ajv's strict JSON Schema 2020-12 validator", () => {
    const schemas = (document.components as Json).schemas as Json;
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining([
        "EventInput",
        "EventRecord",
        "EventList",
        "Receipt",
        "LatestCheckpoint",
        "ProofBundle",
        "Error",
      ]),
    );
    for (const name of Object.keys(schemas)) {
      // Compiling throws on an unknown keyword or a malformed schema (strict mode).
      expect(() => validator.componentErrors(name, null), name).not.toThrow();
    }
    expect(validator.componentErrors("EventRecord", record)).toEqual([]);
    expect(validator.componentErrors("JsonValue", { a: [1, "x", null, { b: true }] })).toEqual([]);
    // The proof format's own schema: strict, every member required.
    expect(schemas.ProofBundle).toMatchObject({
      type: "object",
      additionalProperties: false,
      required: ["v", "event", "record", "batch", "link", "chain_proof", "checkpoint"],
    });
  });

  it("accepts a stored record in a page and refuses a record with a key missing or added", () => {
    expect(
      validator.responseErrors("get", "/v1/events", 200, { events: [record], next_cursor: "abc" }),
    ).toEqual([]);
    expect(validator.responseErrors("get", "/v1/events/{id}", 200, record)).toEqual([]);
    const { tenant: _tenant, ...missing } = record;
    expect(validator.responseErrors("get", "/v1/events/{id}", 200, missing)).not.toEqual([]);
    expect(validator.responseErrors("get", "/v1/events/{id}", 200, { ...record, extra: 1 })).not.toEqual([]);
    expect(validator.responseErrors("get", "/v1/events", 200, { events: [record], cursor: "x" })).not.toEqual(
      [],
    );
  });

  it("describes errors, checkpoints and receipts tightly enough to catch a wrong body", () => {
    expect(
      validator.responseErrors("get", "/v1/events", 400, {
        code: "invalid_parameter",
        message: "m",
        parameter: "limit",
      }),
    ).toEqual([]);
    expect(validator.responseErrors("get", "/v1/events", 400, { message: "no code" })).not.toEqual([]);
    expect(validator.responseErrors("get", "/v1/events", 418, { code: "x", message: "y" })).not.toEqual([]);
    const checkpoint = { key: "checkpoints/00000000000000000001.jws", seq: 1, jws: "a.b.c" };
    expect(validator.responseErrors("get", "/v1/checkpoints/latest", 200, checkpoint)).toEqual([]);
    expect(
      validator.responseErrors("get", "/v1/checkpoints/latest", 200, {
        ...checkpoint,
        key: "checkpoints/1.jws",
      }),
    ).not.toEqual([]);
    const receipt = {
      ids: [record.id],
      chain: "0",
      seq: 0,
      link_key: "chains/0/00000000000000000000.json",
      link_hash: "a".repeat(64),
      batch: { key: "events/dt=2026-01-01/hr=00/x.jsonl.gz", root: "b".repeat(64), count: 1 },
      leaf_indexes: [0],
    };
    expect(validator.responseErrors("post", "/v1/events", 201, receipt)).toEqual([]);
    expect(validator.responseErrors("post", "/v1/events", 201, { ...receipt, link_hash: "xyz" })).not.toEqual(
      [],
    );
  });

  it("describes what API Gateway answers by itself: no code, the reason in www-authenticate", () => {
    const gateway = { 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error" } as const;
    for (const [method, path] of OPERATIONS) {
      for (const [status, message] of Object.entries(gateway)) {
        const at = `${method} ${path} ${status}`;
        expect(validator.responseErrors(method, path, Number(status), { message }), at).toEqual([]);
        // sealtrail's own answers with that status still carry a code …
        expect(
          validator.responseErrors(method, path, Number(status), { code: "x", message: "m" }),
          at,
        ).toEqual([]);
        // … and a body that is neither is refused.
        expect(validator.responseErrors(method, path, Number(status), { message, extra: 1 }), at).not.toEqual(
          [],
        );
      }
      const responses = paths[path]?.[method]?.responses as Record<string, Json>;
      for (const status of ["401", "403"]) {
        expect(responses[status]?.headers, `${method} ${path} ${status}`).toHaveProperty("www-authenticate");
      }
      // An oversized request line is refused before sealtrail: declared without a sealtrail body.
      expect(responses["431"], `${method} ${path} 431`).toBeDefined();
      expect(responses["431"]).not.toHaveProperty("content");
    }
    expect(
      validator.responseErrors("post", "/v1/events", 413, { message: "Request Entity Too Large" }),
    ).toEqual([]);
    expect(
      validator.responseErrors("post", "/v1/events", 413, { code: "body_too_large", message: "m" }),
    ).toEqual([]);
    const post = (paths["/v1/events"]?.post as Json).responses as Record<string, Json>;
    expect(post["403"]?.description).toMatch(/pre-empted by the authorizer/);
    expect(document.info).toMatchObject({ description: expect.stringMatching(/404 .*Not Found/) });
  });

  it("lists every ingest error code under its status, from INGEST_ERRORS", () => {
    const post = (paths["/v1/events"]?.post as Json).responses as Record<string, Json>;
    for (const [code, { status }] of Object.entries(INGEST_ERRORS)) {
      expect(post[String(status)]?.description, `${status} ${code}`).toMatch(new RegExp(`\\b${code}\\b`));
    }
  });

  it("describes the ingest request body from EventInputSchema", () => {
    const ok = {
      events: [{ action: "document.read", outcome: "success", details: { any: ["json", 1, null] } }],
    };
    expect(validator.requestErrors("post", "/v1/events", ok)).toEqual([]);
    expect(validator.requestErrors("post", "/v1/events", { events: [] })).not.toEqual([]);
    expect(
      validator.requestErrors("post", "/v1/events", { events: [{ action: "a", outcome: "maybe" }] }),
    ).not.toEqual([]);
    expect(
      validator.requestErrors("post", "/v1/events", {
        events: [{ action: "a", outcome: "success", id: "x" }],
      }),
    ).not.toEqual([]);
  });

  it("is plain, deterministic JSON", () => {
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
    expect(openApiDocument()).toEqual(document);
    expect(JSON.parse(JSON.stringify(privacyDocument))).toEqual(privacyDocument);
    expect(JSON.stringify(openApiDocument({ privacy: true }))).toBe(JSON.stringify(privacyDocument));
  });

  // openapi-spec-validator, the reference validator of OpenAPI 3.1 documents, is pinned in
  // emulator/requirements.txt; the emulator's virtualenv is made for it if it is not there yet.
  let python = "";
  beforeAll(async () => {
    python = await ensureEmulatorVenv("openapi-spec-validator");
  }, 600_000);
  it("passes openapi-spec-validator, which does refuse a broken document", () => {
    const validate = (doc: unknown) =>
      spawnSync(
        python,
        [
          "-c",
          "import json,sys; from openapi_spec_validator import validate; validate(json.load(sys.stdin))",
        ],
        {
          input: JSON.stringify(doc),
          encoding: "utf8",
        },
      );
    const result = validate(document);
    expect(result.status, result.stderr).toBe(0);
    const withPrivacy = validate(privacyDocument);
    expect(withPrivacy.status, withPrivacy.stderr).toBe(0);
    const broken = structuredClone(document) as { paths: Record<string, Record<string, Json>> };
    // A parameter location OpenAPI does not have.
    ((broken.paths["/v1/events"]?.get as Json).parameters as Json[])[0] = { name: "actor", in: "body" };
    expect(validate(broken).status).not.toBe(0);
  });
});

describe("the OpenAPI document of a deployment with privacy on", () => {
  const PRIVACY = { policy: DEFAULT_PRIVACY_POLICY, eraseScope: DEFAULT_ERASE_SCOPE, erasureHorizonDays: 7 };
  const ISS = "https://idp.test";
  const aliceEvent = {
    action: "document.read",
    outcome: "success",
    actor: { sub: "alice", iss: ISS, session_id: "sess-alice-1" },
    resource: { type: "document", id: "doc-1" },
    details: { note: "alice looked at the salary sheet" },
  };

  function subjectRequest(body: unknown, scope: string): SubjectRequest {
    return {
      claims: { sub: "dpo", iss: "https://issuer.test", aud: "sealtrail", scope, tenant: "acme" },
      scopes: undefined,
      body: typeof body === "string" ? body : JSON.stringify(body),
      isBase64Encoded: false,
      requestId: `subject-${Math.random()}`,
      sourceIp: "203.0.113.1",
      userAgent: "dpo-console/1.0",
    };
  }

  /** The services with privacy on and one of alice's events sealed. */
  async function servicesWithAlice() {
    const services = memoryServices({ privacy: PRIVACY });
    services.advance(1000);
    const sealed = await services.ingest.ingest(
      ingestRequest({ body: JSON.stringify({ events: [aliceEvent] }), requestId: "seal-alice" }),
    );
    expect(sealed.status).toBe(201);
    const subjects = services.privacy?.subjects;
    if (!subjects) throw new Error("privacy is on: the subject service exists");
    return { services, subjects };
  }

  it("lists the subject routes with their operation ids and scopes, besides the whole HTTP API", () => {
    const operationIds = new Set<string>();
    for (const [method, path, scope] of OPERATIONS) {
      const operation = privacyPaths[path]?.[method] as Json;
      expect(operation.security, `${method} ${path}`).toEqual([{ bearerAuth: [scope] }]);
      operationIds.add(operation.operationId as string);
    }
    for (const [method, path, scope, operationId] of SUBJECT_OPERATIONS) {
      const operation = privacyPaths[path]?.[method] as Json;
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.operationId).toBe(operationId);
      expect(operation.security).toEqual([{ bearerAuth: [scope] }]);
      expect(operation.requestBody).toMatchObject({ required: true });
      expect(Object.keys(operation.responses as Json).sort()).toEqual(
        expect.arrayContaining(["200", "400", "401", "403", "431", "500", "503"]),
      );
      expect(operation.description).toMatch(/only when the deployment has privacy on/);
      operationIds.add(operationId);
    }
    expect(operationIds.size).toBe(OPERATIONS.length + SUBJECT_OPERATIONS.length);
    expect(Object.keys(privacyPaths).sort()).toEqual(
      [...new Set([...OPERATIONS, ...SUBJECT_OPERATIONS].map(([, path]) => path))].sort(),
    );
    const erase = privacyPaths["/v1/subjects/erase"]?.post as Json;
    expect(erase.description).toMatch(/Idempotent/);
    expect(erase.description).toMatch(/unknown_subject/);
    expect(erase.description).toMatch(/unrecoverable_after.*point-in-time recovery/);
    expect(erase.description).toMatch(/409 `legal_hold`.*subject\.erase_refused/);
    expect(Object.keys(erase.responses as Json)).toContain("409");
    const scheme = ((privacyDocument.components as Json).securitySchemes as Json).bearerAuth as Json;
    expect(scheme.description).toContain(DEFAULT_ERASE_SCOPE);
  });

  it("has every route of SUBJECT_ROUTES as a path and method", () => {
    for (const route of Object.values(SUBJECT_ROUTES)) {
      const [method, path] = route.split(" ") as [string, string];
      expect(privacyPaths[path]?.[method.toLowerCase()], route).toBeDefined();
    }
    expect(SUBJECT_OPERATIONS.map(([method, path]) => `${method.toUpperCase()} ${path}`).sort()).toEqual(
      Object.values(SUBJECT_ROUTES).sort(),
    );
  });

  it("names the deployment's own erase and admin scopes", () => {
    const doc = openApiDocument({
      privacy: true,
      eraseScope: "audit/forget",
      scopes: { write: "audit/w", read: "audit/r", admin: "audit/root" },
    }) as { paths: Record<string, Record<string, Json>> };
    expect(doc.paths["/v1/subjects/erase"]?.post?.security).toEqual([{ bearerAuth: ["audit/forget"] }]);
    expect(doc.paths["/v1/subjects/hold"]?.post?.security).toEqual([{ bearerAuth: ["audit/root"] }]);
    expect(JSON.stringify(doc)).not.toContain(DEFAULT_ERASE_SCOPE);
  });

  it("leaves the subject routes, their components and filter_not_searchable out with privacy off", () => {
    expect(Object.keys(paths).filter((path) => path.startsWith("/v1/subjects"))).toEqual([]);
    const schemas = (document.components as Json).schemas as Json;
    for (const name of PRIVACY_COMPONENTS) expect(schemas, name).not.toHaveProperty(name);
    const text = JSON.stringify(document);
    expect(text).not.toContain("filter_not_searchable");
    expect(text).not.toContain(DEFAULT_ERASE_SCOPE);
    // The rest of the API is the same document.
    for (const [method, path] of OPERATIONS) {
      if (path === "/v1/events" && method === "get") continue;
      expect(privacyPaths[path]?.[method], `${method} ${path}`).toEqual(paths[path]?.[method]);
    }
  });

  it("adds filter_not_searchable to the 400 of GET /v1/events", () => {
    const search = (privacyPaths["/v1/events"]?.get as Json).responses as Record<string, Json>;
    expect(search["400"]?.description).toMatch(/\bfilter_not_searchable\b/);
    expect(search["400"]?.description).toMatch(/\binvalid_cursor\b/);
  });

  it("compiles every component, the subject ones included, with Ajv's strict validator", () => {
    const schemas = (privacyDocument.components as Json).schemas as Json;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(PRIVACY_COMPONENTS));
    for (const name of Object.keys(schemas)) {
      expect(() => privacyValidator.componentErrors(name, null), name).not.toThrow();
    }
  });

  it("accepts the answers the subject service really gives", async () => {
    const { services, subjects } = await servicesWithAlice();
    const expectValid = (path: string, answer: { status: number; body: unknown }) =>
      expect(
        privacyValidator.responseErrors("post", path, answer.status, answer.body),
        JSON.stringify(answer),
      ).toEqual([]);
    const alice = { sub: "alice", iss: ISS };

    const hold = await subjects.hold(
      subjectRequest({ ...alice, held: true, reason: "incident 42" }, "sealtrail/admin"),
    );
    expect(hold.status).toBe(200);
    expectValid("/v1/subjects/hold", hold);
    const refused = await subjects.erase(subjectRequest(alice, DEFAULT_ERASE_SCOPE));
    expect(refused.status).toBe(409);
    expectValid("/v1/subjects/erase", refused);
    const released = await subjects.hold(subjectRequest({ ...alice, held: false }, "sealtrail/admin"));
    expect(released.body).toMatchObject({ held: false });
    expectValid("/v1/subjects/hold", released);

    const erased = await subjects.erase(subjectRequest(alice, DEFAULT_ERASE_SCOPE));
    expect(erased.body).toMatchObject({ status: "erased" });
    expectValid("/v1/subjects/erase", erased);
    const again = await subjects.erase(subjectRequest(alice, DEFAULT_ERASE_SCOPE));
    expect(again.body).toMatchObject({ status: "already_erased" });
    expectValid("/v1/subjects/erase", again);
    const unknown = await subjects.erase(subjectRequest({ sub: "nobody" }, DEFAULT_ERASE_SCOPE));
    expect(unknown.body).toMatchObject({ status: "unknown_subject" });
    expectValid("/v1/subjects/erase", unknown);

    const notJson = await subjects.erase(subjectRequest("{", DEFAULT_ERASE_SCOPE));
    expect(notJson.body).toMatchObject({ code: "invalid_json" });
    expectValid("/v1/subjects/erase", notJson);
    const noReason = await subjects.hold(subjectRequest({ ...alice, held: true }, "sealtrail/admin"));
    expect(noReason.body).toMatchObject({ code: "invalid_request" });
    expectValid("/v1/subjects/hold", noReason);
    const forbidden = await subjects.erase(subjectRequest(alice, "sealtrail/read"));
    expect(forbidden.status).toBe(403);
    expectValid("/v1/subjects/erase", forbidden);

    // A v3 record, with its `privacy` key, is an EventRecord of the document (privacy on or off).
    const page = await services.query.listEvents(queryRequest("action=document.read"));
    const records = (page.body as EventList).events;
    expect(records[0]).toMatchObject({ v: 3, privacy: { subject: expect.stringMatching(/^sub1\./) } });
    expect(privacyValidator.responseErrors("get", "/v1/events", 200, page.body)).toEqual([]);
    expect(validator.responseErrors("get", "/v1/events", 200, page.body)).toEqual([]);
  });

  it("accepts the filter_not_searchable answer of a search on a field stored only encrypted", async () => {
    const services = memoryServices({
      privacy: { ...PRIVACY, policy: { personal: ["actor.sub", "resource.id"], searchable: ["actor.sub"] } },
    });
    const searched = await services.query.listEvents(
      queryRequest("resource_type=document&resource_id=doc-1"),
    );
    expect(searched).toMatchObject({
      status: 400,
      body: { code: "filter_not_searchable", parameter: "resource_id" },
    });
    expect(privacyValidator.responseErrors("get", "/v1/events", 400, searched.body)).toEqual([]);
  });

  it("refuses answers the service does not give", async () => {
    const { subjects } = await servicesWithAlice();
    const erased = (await subjects.erase(subjectRequest({ sub: "alice", iss: ISS }, DEFAULT_ERASE_SCOPE)))
      .body as Json;
    const errors = (status: number, body: unknown, path = "/v1/subjects/erase") =>
      privacyValidator.responseErrors("post", path, status, body);
    expect(errors(200, erased)).toEqual([]);
    // The plain identifier instead of the pseudonym, a member missing or added, a status of neither kind.
    expect(errors(200, { ...erased, subject: "alice" })).not.toEqual([]);
    const { unrecoverable_after: _after, ...missing } = erased;
    expect(errors(200, missing)).not.toEqual([]);
    expect(errors(200, { ...erased, extra: 1 })).not.toEqual([]);
    expect(errors(200, { ...erased, status: "unknown_subject" })).not.toEqual([]);
    expect(errors(200, { ...erased, status: "pending" })).not.toEqual([]);
    expect(errors(200, { ...erased, receipt: { ids: [] } })).not.toEqual([]);
    expect(
      errors(200, { subject: erased.subject, held: "yes", receipt: erased.receipt }, "/v1/subjects/hold"),
    ).not.toEqual([]);
    expect(errors(200, { subject: erased.subject, held: true }, "/v1/subjects/hold")).not.toEqual([]);
    expect(errors(409, { code: "conflict", message: "m", subject: erased.subject })).not.toEqual([]);
    expect(
      errors(400, { code: "invalid_request", message: "m", errors: [{ index: 0, path: "sub" }] }),
    ).not.toEqual([]);
  });

  it("describes the request bodies as the service validates them", () => {
    const bodies = [
      { sub: "alice" },
      { sub: "alice", iss: ISS },
      { sub: "" },
      { sub: "alice", extra: 1 },
      { iss: ISS },
      { sub: "alice", held: true, reason: "incident 42" },
      { sub: "alice", held: true },
      { sub: "alice", held: false },
      { sub: "alice", held: "yes" },
      { sub: "alice", held: true, reason: "" },
    ];
    for (const [path, schema] of [
      ["/v1/subjects/erase", EraseRequestSchema],
      ["/v1/subjects/hold", HoldRequestSchema],
    ] as const) {
      for (const body of bodies) {
        const accepted = privacyValidator.requestErrors("post", path, body).length === 0;
        expect(accepted, `${path} ${JSON.stringify(body)}`).toBe(schema.safeParse(body).success);
      }
    }
  });

  it("describes what API Gateway answers by itself on the subject routes", () => {
    for (const [method, path] of SUBJECT_OPERATIONS) {
      for (const [status, message] of [
        [401, "Unauthorized"],
        [403, "Forbidden"],
        [500, "Internal Server Error"],
        [503, "Service Unavailable"],
      ] as const) {
        expect(
          privacyValidator.responseErrors(method, path, status, { message }),
          `${path} ${status}`,
        ).toEqual([]);
      }
      const responses = privacyPaths[path]?.[method]?.responses as Record<string, Json>;
      for (const status of ["401", "403"])
        expect(responses[status]?.headers).toHaveProperty("www-authenticate");
      expect(responses["431"]).not.toHaveProperty("content");
    }
  });
});
