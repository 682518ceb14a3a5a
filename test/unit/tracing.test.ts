import { afterEach, describe, expect, it, vi } from "vitest";
import { s3Client } from "../../lambda/aws/clients";

const TARGET = { region: "us-east-1", endpoint: "http://127.0.0.1:9" };

/** A fresh copy of the tracing module, so each case's environment decides its Tracer. */
async function freshTraced() {
  vi.resetModules();
  return (await import("../../lambda/runtime/tracing")).traced;
}

const middlewareNames = (client: ReturnType<typeof s3Client>) =>
  client.middlewareStack.identify().map((entry) => entry.split(" ")[0]);

describe("traced", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("returns the client untouched outside Lambda (local mode, the CLI, tests)", async () => {
    // Prepare
    vi.stubEnv("AWS_EXECUTION_ENV", "");
    const traced = await freshTraced();
    const client = s3Client(TARGET);
    const before = middlewareNames(client);

    // Act
    const result = traced(client);

    // Assert
    expect(result).toBe(client);
    expect(middlewareNames(result)).toEqual(before);
  });

  it("instruments the client with X-Ray in a Lambda environment", async () => {
    // Prepare
    vi.stubEnv("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x");
    vi.stubEnv("POWERTOOLS_TRACE_ENABLED", "");
    const traced = await freshTraced();

    // Act
    const result = traced(s3Client(TARGET));

    // Assert
    expect(middlewareNames(result)).toContain("XRaySDKInstrumentation");
  });

  it("leaves the client untouched in Lambda when POWERTOOLS_TRACE_ENABLED is false", async () => {
    // Prepare
    vi.stubEnv("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x");
    vi.stubEnv("POWERTOOLS_TRACE_ENABLED", "false");
    const traced = await freshTraced();

    // Act
    const result = traced(s3Client(TARGET));

    // Assert
    expect(middlewareNames(result)).not.toContain("XRaySDKInstrumentation");
  });
});
