/**
 * The deploy test's access to the deployed stack: the API through the emulated API Gateway (Host-based
 * routing), tokens from the run's issuer, the archive through the emulator's S3, and the sealtrail CLI.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import { type AwsTarget, dynamoClient, s3Client } from "../../lambda/aws/clients";
import { PROJECT_ROOT } from "../infra/cdk-cli";
import type { TestArchive } from "../support/aws";
import { type DeployState, readDeployState } from "./state";

export const state: DeployState = readDeployState();

export const target: AwsTarget = { endpoint: state.endpoint, region: state.region };

/** The deployed archive as the shared test helpers (test/support) take it. */
export const archive: TestArchive = {
  target,
  bucket: output("BucketName"),
  table: output("TableName"),
  s3: s3Client(target),
  dynamo: dynamoClient(target),
};

export function output(name: string): string {
  const value = state.outputs[name];
  if (value === undefined)
    throw new Error(`the stack has no output ${name}: ${Object.keys(state.outputs).join(", ")}`);
  return value;
}

/** The API id: the first label of the ApiUrl output's host (`https://<id>.execute-api.<region>.amazonaws.com/`). */
export function apiId(): string {
  const id = /^https:\/\/([a-z0-9]+)\.execute-api\./.exec(output("ApiUrl"))?.[1];
  if (!id) throw new Error(`ApiUrl ${output("ApiUrl")} is not an execute-api URL`);
  return id;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

/**
 * A request to the deployed HTTP API: sent to the emulator's port with the Host header API Gateway
 * routes by (see DEPARTURES). node:http, because fetch does not let a caller set Host.
 */
export function callApi(
  method: "GET" | "POST",
  path: string,
  options: { readonly token?: string; readonly body?: unknown } = {},
): Promise<ApiResponse> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    host: `${apiId()}.execute-api.localhost:${state.port}`,
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(body !== undefined
      ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: state.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

let signingKey: Promise<{ key: Awaited<ReturnType<typeof importJWK>>; kid: string }> | undefined;

/**
 * A token from the run's issuer: by default valid for 10 minutes, for the stack's audience, with the
 * given scopes. `claims` overrides any of them (a wrong `aud`, a past `exp`).
 */
export async function token(scope: string, claims: JWTPayload = {}): Promise<string> {
  signingKey ??= (async () => {
    const jwk = JSON.parse(readFileSync(state.issuerKeyFile, "utf8")) as JWK & { kid: string };
    return { key: await importJWK(jwk, "RS256"), kid: jwk.kid };
  })();
  const { key, kid } = await signingKey;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: state.issuer,
    aud: state.audience,
    sub: "deploy-test-service",
    client_id: "deploy-test-client",
    scope,
    iat: now,
    exp: now + 600,
    jti: `jti-${now}-${Math.random().toString(36).slice(2)}`,
    ...claims,
  })
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .sign(key);
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `sealtrail <args>` (bin/sealtrail.ts) as a child process, pointed at the emulator. */
export async function sealtrail(args: readonly string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(PROJECT_ROOT, "node_modules", ".bin", "tsx"),
      [join(PROJECT_ROOT, "bin", "sealtrail.ts"), ...args],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, AWS_ENDPOINT_URL: state.endpoint, AWS_REGION: state.region },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 300_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      stdout: failed.stdout ?? "",
      stderr: failed.stderr ?? "",
    };
  }
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${String(last)})` : ""}`);
}
