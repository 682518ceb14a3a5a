/**
 * Record format versions: v1 lines (written before http.route and http.duration_ms existed) still
 * verify byte for byte in both verifier passes; each version has exactly its own keys.
 */
import { describe, expect, it } from "vitest";
import { buildRecord, serializeRecord } from "../../lambda/core/record";
import { EventRecordSchema, RECORD_VERSION } from "../../lambda/core/schema";
import { checkBatch, sealedBatchBytes } from "../../lambda/verify/batch-check";
import { committedBatch } from "../support/committed-batch";
import { testPrincipal } from "../support/principal";

const principal =
  '{"sub":"svc","iss":"https://issuer.test","session_id":null,"token_id":"j","token_exp":2,"token_iat":1,"client_id":null,"azp":null,"aud":["sealtrail"],"roles":[],"scopes":["sealtrail/write"],"verified":true}';
/** A line exactly as v1 wrote it: `http` without route and duration_ms. */
const V1_LINE =
  `{"v":1,"id":"01JCEXAMP00000000000000001","time":"2026-11-22T03:00:00.000Z","action":"document.read","outcome":"success","occurred_at":null,` +
  `"actor":${principal},"reporter":${principal},"resource":{"type":"doc","id":"42"},` +
  `"http":{"request_id":"req-1","method":"GET","endpoint":"/docs/42","status":200,"source_ip":"192.0.2.1","user_agent":null},` +
  `"ingest":{"request_id":"r","source_ip":"192.0.2.1","user_agent":null},"tenant":"default","details":null}`;

const v2Line = serializeRecord(
  buildRecord(
    {
      action: "document.read",
      outcome: "success",
      http: { method: "GET", route: "/docs/:id", endpoint: "/docs/43", status: 200, duration_ms: 12.5 },
    },
    {
      id: "01JCEXAMP00000000000000002",
      time: "2026-11-22T03:00:00.001Z",
      reporter: testPrincipal(),
      tenant: "default",
      ingest: { request_id: "r", source_ip: "192.0.2.1", user_agent: null },
    },
  ),
);

describe("record versions", () => {
  it("new records are written as the current version, with route and duration_ms in http", () => {
    expect(RECORD_VERSION).toBe(2);
    expect(JSON.parse(v2Line)).toMatchObject({ v: 2, http: { route: "/docs/:id", duration_ms: 12.5 } });
    const bare = JSON.parse(
      serializeRecord(
        EventRecordSchema.parse({ ...JSON.parse(v2Line), http: { ...JSON.parse(v2Line).http } }),
      ),
    );
    expect(Object.keys(bare.http)).toEqual([
      "request_id",
      "method",
      "endpoint",
      "route",
      "status",
      "duration_ms",
      "source_ip",
      "user_agent",
    ]);
  });

  it("a v1 line parses and re-serializes to its own bytes", () => {
    expect(serializeRecord(EventRecordSchema.parse(JSON.parse(V1_LINE)))).toBe(V1_LINE);
  });

  it("a batch of a v1 and a v2 line verifies in the sealed-batch pass and the thorough pass", () => {
    const { bytes, batch } = committedBatch([V1_LINE, v2Line]);
    expect(sealedBatchBytes(bytes, batch)).toBeGreaterThan(0);
    for (const records of [false, true]) {
      expect(checkBatch(bytes, batch, { keepEvents: false, records }).problems).toEqual([]);
    }
  });

  it.each([
    ["a v1 line that carries a v2 key", V1_LINE.replace('"status":200', '"route":null,"status":200')],
    ["a v2 line without a v2 key", v2Line.replace('"route":"/docs/:id",', "")],
    ["a v1 line claiming to be v2", V1_LINE.replace('{"v":1', '{"v":2')],
  ])("%s is not in its canonical form", (_, line) => {
    const { bytes, batch } = committedBatch([line]);
    expect(checkBatch(bytes, batch, { keepEvents: false, records: true }).problems).toMatchObject([
      { code: "bad_line", line: 1, message: "record is not in its canonical form" },
    ]);
  });
});
