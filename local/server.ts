/**
 * Local mode's stand-in for API Gateway HTTP API: a node:http server on 127.0.0.1 that matches
 * routes, applies the JWT authorizer (./authorizer.ts), builds the payload format 2.0 event a
 * Lambda integration receives, and writes the handler's result back as API Gateway would.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
} from "aws-lambda";
import type { JSONWebKeySet } from "jose";
import { type Authorized, authorizeRequest, type JwtAuthorizerConfig } from "./authorizer";

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const JWKS_PATH = "/.well-known/jwks.json";
export const OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration";
const CLOSE_GRACE_MS = 2000;
/**
 * How long an idle keep-alive connection stays open. A server that closes first races a client
 * reusing the connection ("other side closed"), so it must outlive its clients' idle timeout:
 * fetch (undici) keeps 4 s without a hint, Node's http.Agent 5 s, and load balancers in front of
 * a backend use 60 s. Advertised to clients in `Keep-Alive: timeout=…`.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Above the keep-alive timeout, as load balancers set it, so an idle connection is never cut for "slow headers". */
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1000;

export type RouteHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
) => Promise<APIGatewayProxyResultV2 | APIGatewayProxyStructuredResultV2>;

export interface RouteDefinition {
  /** The route's authorization scopes: the token needs one of them. */
  readonly scopes: readonly string[];
  readonly handler: RouteHandler;
}

/** Keyed by route key, as API Gateway names routes: "POST /v1/events", "GET /v1/events/{id}". */
export type RouteTable = Readonly<Record<string, RouteDefinition>>;

export interface LocalServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * The token issuer: its public keys, and its URL (`iss`). Without a URL the server's own base URL
   * is the issuer, which is where its JWKS is served.
   */
  readonly issuer: { readonly issuer?: string; publicJwks(): JSONWebKeySet };
  /** Accepted audiences (aud, or client_id when a token has no aud). */
  readonly audience: string | readonly string[];
  readonly routes: RouteTable;
  /** @default 60 */
  readonly clockSkewSeconds?: number;
  /** @default MAX_PAYLOAD_BYTES */
  readonly maxPayloadBytes?: number;
  /** @default "000000000000" */
  readonly accountId?: string;
  /** @default "local" */
  readonly apiId?: string;
  /** Where handler failures and refused tokens (the reason, never the token) are reported. @default console.error */
  readonly log?: (line: string) => void;
  /** Public JSON documents served without a token, by path (e.g. "/openapi.json"). */
  readonly documents?: Readonly<Record<string, (baseUrl: string) => unknown>>;
}

export interface LocalServer {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly port: number;
  readonly issuer: string;
  readonly jwksUrl: string;
  close(): Promise<void>;
}

interface CompiledRoute {
  readonly routeKey: string;
  readonly method: string;
  readonly segments: readonly string[];
  readonly definition: RouteDefinition;
}

interface RouteMatch {
  readonly route: CompiledRoute;
  readonly pathParameters: Record<string, string> | undefined;
}

/**
 * sealtrail's routes are exact: a method and a path of literal and `{name}` segments. API Gateway's
 * ANY method and greedy `{name+}` segments are refused here rather than half served, since no route
 * of the stack uses them (lambda/core/routes.ts).
 */
function compileRoutes(routes: RouteTable): CompiledRoute[] {
  return Object.entries(routes).map(([routeKey, definition]) => {
    const match = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/[^?#]*)$/.exec(routeKey);
    if (!match?.[1] || !match[2]) {
      throw new Error(`Route key "${routeKey}" must be "<METHOD> /path", e.g. "POST /v1/events"`);
    }
    const segments = match[2].split("/").slice(1);
    if (segments.some((segment) => segment.includes("+}"))) {
      throw new Error(`Route key "${routeKey}": greedy {name+} segments are not served by the local server`);
    }
    return { routeKey, method: match[1], segments, definition };
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The path's parameters when it fits the route's segments (undefined: none), or null when it does not. */
function matchSegments(
  segments: readonly string[],
  path: readonly string[],
): Record<string, string> | undefined | null {
  if (path.length !== segments.length) return null;
  const parameters: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const actual = path[i] as string;
    const variable = /^\{([^}]+)\}$/.exec(segment)?.[1];
    if (variable === undefined) {
      if (segment !== actual) return null;
    } else if (actual === "") {
      return null;
    } else {
      parameters[variable] = safeDecode(actual);
    }
  }
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

/** As API Gateway does, a literal segment wins over a variable in the same place. */
function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const literal = (route: CompiledRoute, i: number) => (route.segments[i]?.startsWith("{") ? 0 : 1);
  for (let i = 0; i < Math.max(a.segments.length, b.segments.length); i++) {
    const diff = literal(b, i) - literal(a, i);
    if (diff !== 0) return diff;
  }
  return 0;
}

function matchRoute(
  routes: readonly CompiledRoute[],
  method: string,
  rawPath: string,
): RouteMatch | undefined {
  const path = rawPath.split("/").slice(1);
  for (const route of routes) {
    if (route.method !== method) continue;
    const parameters = matchSegments(route.segments, path);
    if (parameters !== null) return { route, pathParameters: parameters };
  }
  return undefined;
}

/** "12/Mar/2020:19:03:58 +0000", the form of requestContext.time. */
function requestTime(at: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${two(at.getUTCDate())}/${months[at.getUTCMonth()]}/${at.getUTCFullYear()}:` +
    `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`
  );
}

/** Looks like API Gateway's request ids ("Mc7UVioPPHcEKPA="): unique per request. */
function newRequestId(): string {
  return randomBytes(10).toString("base64");
}

function traceId(at: Date): string {
  return `Root=1-${Math.floor(at.getTime() / 1000).toString(16)}-${randomBytes(12).toString("hex")}`;
}

/** Header names lowercased, repeated headers joined with commas; cookies travel separately. */
function eventHeaders(request: IncomingMessage): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (name === "cookie") {
      cookies.push(
        ...value
          .split(";")
          .map((c) => c.trim())
          .filter((c) => c.length > 0),
      );
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === "") return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

function sourceIpOf(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? "127.0.0.1";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * The body as the handler must see it: its exact bytes. Text when they are UTF-8; otherwise
 * base64 with isBase64Encoded, as API Gateway hands over bodies it does not treat as text
 * (a lossy toString("utf8") would put U+FFFD where the bad bytes were).
 */
function eventBody(body: Buffer): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  try {
    return {
      body: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body),
      isBase64Encoded: false,
    };
  } catch {
    return { body: body.toString("base64"), isBase64Encoded: true };
  }
}

class PayloadTooLarge extends Error {}

/** Reads the body; past `limit` it keeps draining (so the 413 still reaches the client) and then fails. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.once("end", () =>
      size > limit ? reject(new PayloadTooLarge()) : resolve(Buffer.concat(chunks)),
    );
    request.once("error", reject);
  });
}

function send(
  response: ServerResponse,
  statusCode: number,
  headers: Record<string, string | string[]>,
  body: string | Buffer,
): void {
  if (response.headersSent) return;
  response.writeHead(statusCode, { ...headers, "content-length": String(Buffer.byteLength(body)) });
  response.end(body);
}

function sendMessage(response: ServerResponse, statusCode: number, message: string, requestId: string): void {
  send(
    response,
    statusCode,
    { "content-type": "application/json", "apigw-requestid": requestId },
    JSON.stringify({ message }),
  );
}

/**
 * A handler result as API Gateway turns it into a response (payload format 2.0): a result with a
 * numeric statusCode is a structured response; anything else is a 200 whose JSON body is the value.
 */
function writeResult(
  response: ServerResponse,
  result: APIGatewayProxyResultV2 | APIGatewayProxyStructuredResultV2,
  requestId: string,
): void {
  if (typeof result !== "object" || result === null || typeof result.statusCode !== "number") {
    const body = typeof result === "string" ? result : JSON.stringify(result ?? null);
    send(response, 200, { "content-type": "application/json", "apigw-requestid": requestId }, body);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers["set-cookie"] = result.cookies;
  headers["content-type"] ??= "application/json";
  headers["apigw-requestid"] = requestId;
  const body = result.isBase64Encoded
    ? Buffer.from(result.body ?? "", "base64")
    : Buffer.from(result.body ?? "", "utf8");
  send(response, result.statusCode, headers, body);
}

/** The payload v2 event API Gateway would hand the route's function for this request. */
function apiGatewayEvent(
  request: IncomingMessage,
  body: Buffer,
  context: {
    readonly method: string;
    readonly rawPath: string;
    readonly rawQueryString: string;
    readonly route: RouteMatch;
    readonly claims: Authorized;
    readonly requestId: string;
    readonly started: Date;
    readonly baseUrl: string;
    readonly accountId: string;
    readonly apiId: string;
  },
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const { method, rawPath, rawQueryString } = context;
  const { headers, cookies } = eventHeaders(request);
  const sourceIp = sourceIpOf(request);
  headers["x-forwarded-for"] ??= sourceIp;
  headers["x-forwarded-proto"] ??= "http";
  headers["x-forwarded-port"] ??= String(request.socket.localPort ?? "");
  headers["x-amzn-trace-id"] ??= traceId(context.started);
  const domainName = headers.host ?? new URL(context.baseUrl).host;
  const queryStringParameters = queryParameters(rawQueryString);

  return {
    version: "2.0",
    routeKey: context.route.route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      authorizer: { jwt: { claims: context.claims.claims, scopes: context.claims.scopes } },
      domainName,
      domainPrefix: domainName.split(".")[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: context.requestId,
      routeKey: context.route.route.routeKey,
      stage: "$default",
      time: requestTime(context.started),
      timeEpoch: context.started.getTime(),
    },
    ...(context.route.pathParameters ? { pathParameters: context.route.pathParameters } : {}),
    ...eventBody(body),
  };
}

/** A request target's path and query string, as API Gateway's rawPath and rawQueryString. */
function splitTarget(target: string): { readonly rawPath: string; readonly rawQueryString: string } {
  const queryAt = target.indexOf("?");
  return queryAt === -1
    ? { rawPath: target, rawQueryString: "" }
    : { rawPath: target.slice(0, queryAt), rawQueryString: target.slice(queryAt + 1) };
}

/** Listens on 127.0.0.1; rejects when the port cannot be had. */
function listen(server: Server, port: number | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, "127.0.0.1");
  });
}

/** Starts the server on 127.0.0.1; rejects (EADDRINUSE and the like) when it cannot listen. */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const routes = compileRoutes(options.routes).sort(compareSpecificity);
  const audiences = typeof options.audience === "string" ? [options.audience] : [...options.audience];
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  const accountId = options.accountId ?? "000000000000";
  const apiId = options.apiId ?? "local";
  const log = options.log ?? ((line: string) => console.error(line));
  let baseUrl = "";
  const issuerUrl = () => options.issuer.issuer ?? baseUrl;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = new Date();
    const requestId = newRequestId();
    const method = (request.method ?? "GET").toUpperCase();
    const { rawPath, rawQueryString } = splitTarget(request.url ?? "/");

    if (method === "GET" && rawPath === JWKS_PATH) {
      send(
        response,
        200,
        { "content-type": "application/json" },
        JSON.stringify(options.issuer.publicJwks()),
      );
      return;
    }
    if (method === "GET" && rawPath === OPENID_CONFIGURATION_PATH) {
      const document = { issuer: issuerUrl(), jwks_uri: `${baseUrl}${JWKS_PATH}` };
      send(response, 200, { "content-type": "application/json" }, JSON.stringify(document));
      return;
    }

    const document = method === "GET" ? options.documents?.[rawPath] : undefined;
    if (document) {
      send(response, 200, { "content-type": "application/json" }, JSON.stringify(document(baseUrl)));
      return;
    }

    const match = matchRoute(routes, method, rawPath);
    if (!match) {
      sendMessage(response, 404, "Not Found", requestId);
      request.resume();
      return;
    }
    const declaredLength = Number(request.headers["content-length"] ?? 0);
    if (declaredLength > maxPayloadBytes) {
      sendMessage(response, 413, "Request Entity Too Large", requestId);
      request.resume();
      return;
    }

    const config: JwtAuthorizerConfig = {
      issuer: issuerUrl(),
      audiences,
      jwks: options.issuer.publicJwks(),
      clockSkewSeconds: options.clockSkewSeconds,
    };
    const auth = await authorizeRequest({
      authorization: request.headers.authorization,
      routeScopes: match.route.definition.scopes,
      config,
      now: started,
    });
    if (!auth.ok) {
      // The reason is in www-authenticate too; the console shows it to whoever runs local mode (never the token).
      log(
        `sealtrail: ${auth.statusCode} ${method} ${rawPath} refused (request ${requestId}): ${auth.reason}`,
      );
      send(response, auth.statusCode, { ...auth.headers, "apigw-requestid": requestId }, auth.body);
      request.resume();
      return;
    }

    let body: Buffer;
    try {
      body = await readBody(request, maxPayloadBytes);
    } catch (error) {
      if (error instanceof PayloadTooLarge) {
        sendMessage(response, 413, "Request Entity Too Large", requestId);
        return;
      }
      throw error;
    }

    const event = apiGatewayEvent(request, body, {
      method,
      rawPath,
      rawQueryString,
      route: match,
      claims: auth,
      requestId,
      started,
      baseUrl,
      accountId,
      apiId,
    });

    let result: APIGatewayProxyResultV2 | APIGatewayProxyStructuredResultV2;
    try {
      result = await match.route.definition.handler(event);
    } catch (error) {
      // API Gateway answers a failed Lambda invocation with this, and the error goes to the function's log.
      log(
        `sealtrail: ${match.route.routeKey} failed (request ${requestId}): ${(error as Error).stack ?? error}`,
      );
      sendMessage(response, 500, "Internal Server Error", requestId);
      return;
    }
    writeResult(response, result, requestId);
  }

  const server: Server = createServer(
    { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS },
    (request, response) => {
      handle(request, response).catch((error) => {
        log(`sealtrail: local server error: ${(error as Error).stack ?? error}`);
        sendMessage(response, 500, "Internal Server Error", newRequestId());
      });
    },
  );

  await listen(server, options.port);

  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    port,
    issuer: issuerUrl(),
    jwksUrl: `${baseUrl}${JWKS_PATH}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Requests in flight get a moment to finish; idle keep-alive connections would hold close() open.
        const deadline = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close((error) => {
          clearTimeout(deadline);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
