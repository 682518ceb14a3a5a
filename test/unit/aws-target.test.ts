/**
 * Where each client points: AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_<SERVICE> over it for
 * one (DynamoDB Local serving the index while moto serves S3), a command-line endpoint over both.
 * Checked by where real SDK clients send their requests, not by reading their config.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoClient, s3Client } from "../../lambda/aws/clients";
import { awsTargetFromEnv } from "../../lambda/aws/target";
import { configFromEnv } from "../../lambda/runtime/config";

/** A server that counts the requests it gets and answers each with a 500 (a client sends one, then fails). */
async function countingServer(): Promise<{ url: string; requests: () => number; server: Server }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on("end", () => res.writeHead(500, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    server,
  };
}

let shared: Awaited<ReturnType<typeof countingServer>>;
let dynamo: Awaited<ReturnType<typeof countingServer>>;
beforeAll(async () => {
  [shared, dynamo] = await Promise.all([countingServer(), countingServer()]);
});
afterAll(async () => {
  for (const { server } of [shared, dynamo]) await new Promise((resolve) => server.close(resolve));
});

/** Sends one S3 and one DynamoDB request through the target's clients; returns [shared, dynamo] counts added. */
async function sendBoth(target: ReturnType<typeof awsTargetFromEnv>): Promise<[number, number]> {
  const before = [shared.requests(), dynamo.requests()];
  const once = { maxAttempts: 1 };
  await s3Client(target, once)
    .send(new ListBucketsCommand({}))
    .catch(() => {});
  await dynamoClient(target, once)
    .send(new ListTablesCommand({}))
    .catch(() => {});
  return [shared.requests() - (before[0] as number), dynamo.requests() - (before[1] as number)];
}

describe("the AWS target", () => {
  it("AWS_ENDPOINT_URL_DYNAMODB sends DynamoDB there and S3 to AWS_ENDPOINT_URL", async () => {
    const target = awsTargetFromEnv({ AWS_ENDPOINT_URL: shared.url, AWS_ENDPOINT_URL_DYNAMODB: dynamo.url });
    expect(target).toEqual({
      region: "us-east-1",
      endpoint: shared.url,
      endpoints: { dynamodb: dynamo.url },
    });
    expect(await sendBoth(target)).toEqual([1, 1]);
  });

  it("AWS_ENDPOINT_URL alone serves every service", async () => {
    expect(await sendBoth(awsTargetFromEnv({ AWS_ENDPOINT_URL: shared.url }))).toEqual([2, 0]);
  });

  it("an endpoint given on the command line serves every service, over the per-service variables", async () => {
    const target = awsTargetFromEnv(
      { AWS_ENDPOINT_URL_DYNAMODB: dynamo.url, AWS_REGION: "eu-west-1" },
      { endpoint: shared.url, region: "eu-central-1" },
    );
    expect(target).toEqual({ region: "eu-central-1", endpoint: shared.url });
    expect(await sendBoth(target)).toEqual([2, 0]);
  });

  it("refuses a variable that is not a URL, naming it", () => {
    expect(() => awsTargetFromEnv({ AWS_ENDPOINT_URL_S3: "not a url" })).toThrow(
      /AWS_ENDPOINT_URL_S3 must be a URL/,
    );
  });

  it("the Lambda configuration reads the same variables", () => {
    const config = configFromEnv({
      SEALTRAIL_BUCKET: "b",
      SEALTRAIL_TABLE: "t",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566",
      AWS_REGION: "eu-west-1",
    });
    expect(config.aws).toEqual({ region: "eu-west-1", endpoints: { s3: "http://127.0.0.1:4566" } });
  });
});
