/**
 * The client's copy of the server's contract: the generated types, the route and the header are
 * what the server's schemas and OpenAPI document say; any drift fails here.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type * as z from "zod";
import { formattedServerTypes, SERVER_TYPES_FILE } from "../../../client/scripts/server-types";
import { IDEMPOTENCY_HEADER, INGEST_PATH } from "../../../client/src/client";
import type { AuditEvent, Receipt } from "../../../client/src/index";
import type { Receipt as ServerReceipt } from "../../../lambda/core/api-schema";
import { openApiDocument } from "../../../lambda/core/openapi";
import type { EventInputSchema } from "../../../lambda/core/schema";

/** Compiles only when A and B are assignable both ways (checked by `tsc --noEmit` in npm test). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const eventTypesAgree: Same<AuditEvent, z.input<typeof EventInputSchema>> = true;
const receiptTypesAgree: Same<Receipt, ServerReceipt> = true;

describe("the client's contract with the server", () => {
  it("client/src/server-types.ts is what the server's schemas generate now", async () => {
    expect(eventTypesAgree && receiptTypesAgree).toBe(true);
    const committed = readFileSync(SERVER_TYPES_FILE, "utf8");
    expect(committed, "run `npm run generate -w client` and commit the result").toBe(
      await formattedServerTypes(),
    );
  });

  it("posts to the OpenAPI document's ingest route with its Idempotency-Key header", () => {
    const doc = openApiDocument() as {
      paths: Record<string, { post?: { parameters?: Array<{ name: string; in: string }> } }>;
    };
    const post = doc.paths[INGEST_PATH]?.post;
    expect(post).toBeDefined();
    expect(post?.parameters?.map((p) => `${p.in}:${p.name.toLowerCase()}`)).toContain(
      `header:${IDEMPOTENCY_HEADER}`,
    );
  });
});
