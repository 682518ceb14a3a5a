/**
 * The OpenAPI document: OpenAPI 3.1 in shape, generated from the schemas the handlers use, and a
 * validator (test/support/openapi-validator.ts) that accepts real bodies and refuses wrong ones.
 * The integration suite (test/integration/query.test.ts) checks every response the handlers
 * actually give against this same document.
 */
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { ListEventsQuerySchema } from "../../lambda/core/api-schema";
import { INGEST_ERRORS } from "../../lambda/core/ingest-errors";
import { openApiDocument } from "../../lambda/core/openapi";
import { buildRecord } from "../../lambda/core/record";
import { ensureEmulatorVenv } from "../infra/cdk-cli";
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

function resolvePointer(pointer: string): unknown {
  return pointer
    .replace(/^#\//, "")
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part], document);
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
    const all = refs(document);
    expect(all.length).toBeGreaterThan(5);
    for (const [at, ref] of all) {
      expect(ref.startsWith("#/components/schemas/"), at).toBe(true);
      expect(resolvePointer(ref), `${at} → ${ref}`).toBeDefined();
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
    const broken = structuredClone(document) as { paths: Record<string, Record<string, Json>> };
    // A parameter location OpenAPI does not have.
    ((broken.paths["/v1/events"]?.get as Json).parameters as Json[])[0] = { name: "actor", in: "body" };
    expect(validate(broken).status).not.toBe(0);
  });
});
