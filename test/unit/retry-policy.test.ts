/**
 * The one retry policy (lambda/aws/clients.ts) counted on real SDK clients: the HTTP layer is a stub
 * that counts each attempt and answers as S3 or DynamoDB do when they throttle, so the numbers are
 * what the write path would send, with no second loop stacked on the SDK's.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { dynamoClient, SDK_MAX_ATTEMPTS, s3Client } from "../../lambda/aws/clients";
import { documentClient, IndexStore } from "../../lambda/aws/index-store";
import { S3ObjectStore } from "../../lambda/aws/object-store";
import { WriteUnconfirmedError, writeExactly } from "../../lambda/ingest/write-exactly";

interface StubAnswer {
  readonly status: number;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** A request handler that counts attempts by method and answers each with `answer`. */
function countingHandler(answer: (method: string, attempt: number) => StubAnswer | Error) {
  const attempts: Record<string, number> = {};
  const handler = {
    async handle(request: { method: string }) {
      attempts[request.method] = (attempts[request.method] ?? 0) + 1;
      const reply = answer(request.method, attempts[request.method] as number);
      if (reply instanceof Error) throw reply;
      const body = Buffer.from(reply.body ?? "");
      return {
        response: {
          statusCode: reply.status,
          reason: undefined,
          headers: { "content-length": String(body.length), ...reply.headers },
          body: Readable.from([body]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return { handler, attempts };
}

const TARGET = { region: "us-east-1", endpoint: "http://127.0.0.1:9" };
const S3_SLOW_DOWN: StubAnswer = {
  status: 503,
  body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
  headers: { "content-type": "application/xml" },
};

describe("one retry policy: SDK attempts are not multiplied by the write path", () => {
  it("sends a throttled archive put at most SDK_MAX_ATTEMPTS times, reads the key, then says unconfirmed", async () => {
    // Prepare
    const { handler, attempts } = countingHandler(() => S3_SLOW_DOWN);
    const objects = new S3ObjectStore(s3Client(TARGET, { requestHandler: handler }), "archive");

    // Act
    const outcome = writeExactly(objects, "events/x.ndjson", Buffer.from("{}\n"), "application/x-ndjson");

    // Assert
    await expect(outcome).rejects.toBeInstanceOf(WriteUnconfirmedError);
    expect(SDK_MAX_ATTEMPTS).toBe(3);
    expect(attempts).toEqual({ PUT: SDK_MAX_ATTEMPTS, GET: SDK_MAX_ATTEMPTS });
  }, 30_000);

  it("after a lost response, the SDK's resend finds our bytes: two puts and one read, and the write is ours", async () => {
    // Prepare
    const bytes = Buffer.from('{"a":1}\n');
    const lost = Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
    const { handler, attempts } = countingHandler((method, attempt) => {
      if (method === "PUT" && attempt === 1) return lost; // stored, but the answer never came back
      if (method === "PUT") return { status: 412, body: "<Error><Code>PreconditionFailed</Code></Error>" };
      return { status: 200, body: bytes, headers: { "content-type": "application/x-ndjson" } };
    });
    const objects = new S3ObjectStore(s3Client(TARGET, { requestHandler: handler }), "archive");

    // Act
    const outcome = await writeExactly(objects, "chains/0/1.json", bytes, "application/json");

    // Assert
    expect(outcome).toBe("ours");
    expect(attempts).toEqual({ PUT: 2, GET: 1 });
  }, 30_000);

  it("a 409 (a write of the key in flight) is resent by the protocol a bounded number of times", async () => {
    // Prepare
    const conflict: StubAnswer = {
      status: 409,
      body: "<Error><Code>ConditionalRequestConflict</Code></Error>",
      headers: { "content-type": "application/xml" },
    };
    const { handler, attempts } = countingHandler((method) =>
      method === "PUT" ? conflict : { status: 404, body: "<Error><Code>NoSuchKey</Code></Error>" },
    );
    const objects = new S3ObjectStore(s3Client(TARGET, { requestHandler: handler }), "archive");

    // Act
    const outcome = writeExactly(objects, "chains/0/2.json", Buffer.from("{}"), "application/json");

    // Assert: the SDK does not resend a 409, so each protocol round is one put and one read.
    await expect(outcome).rejects.toBeInstanceOf(WriteUnconfirmedError);
    expect(attempts).toEqual({ PUT: 3, GET: 3 });
  }, 30_000);

  it("sends a throttled index write at most SDK_MAX_ATTEMPTS times, and the unprocessed-items loop adds none", async () => {
    // Prepare
    const { handler, attempts } = countingHandler(() => ({
      status: 400,
      body: JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        message: "Rate of requests exceeds the allowed throughput.",
      }),
      headers: { "content-type": "application/x-amz-json-1.0" },
    }));
    const index = new IndexStore(documentClient(dynamoClient(TARGET, { requestHandler: handler })), "t");

    // Act
    const outcome = index.putItems([{ pk: "event#1", sk: "event" }]);

    // Assert
    await expect(outcome).rejects.toMatchObject({ name: "ThrottlingException" });
    expect(attempts).toEqual({ POST: SDK_MAX_ATTEMPTS });
  }, 30_000);
});
