/**
 * API Gateway HTTP API's JWT authorizer, reproduced for local mode with jose.
 *
 * The rules, from AWS's "Control access to HTTP APIs with JWT authorizers" and "Troubleshooting
 * issues with HTTP API JWT authorizers" pages:
 * - the identity source (Authorization header) holds the token, alone or after "Bearer";
 * - the token's algorithm and signature are checked against the issuer's key set (RSA only; here
 *   RS256, what the local issuer signs), and its `kid` must name a key in that set;
 * - `iss` must equal the configured issuer;
 * - `aud` must contain a configured audience; only when there is no `aud` at all is `client_id`
 *   checked instead (Cognito access tokens). When both are present, `aud` decides;
 * - `exp` after now, `nbf` and `iat` before now;
 * - a route with authorization scopes needs a token whose `scope` or `scp` holds one of them.
 * Token failures answer 401 `{"message":"Unauthorized"}` with a `www-authenticate` header that
 * describes the problem, in the form AWS's troubleshooting page shows:
 * `Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"`;
 * a valid token without a route scope answers 403 `{"message":"Forbidden"}`.
 *
 * On success the claims are flattened to strings the way API Gateway hands them to Lambda (see
 * `flattenClaimValue`).
 */
import {
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from "jose";
import { jwtPayloadClaims, scopesOf } from "../lambda/core/claims";

export interface JwtAuthorizerConfig {
  /** Must equal the token's `iss` exactly. */
  readonly issuer: string;
  /** The token's `aud` (or, without `aud`, its `client_id`) must hold one of these. */
  readonly audiences: readonly string[];
  /** The issuer's public keys (what API Gateway fetches from its jwks_uri). */
  readonly jwks: JSONWebKeySet;
  /** @default ["RS256"] */
  readonly algorithms?: readonly string[];
  /**
   * Allowance for clock differences on exp, nbf and iat. AWS does not publish the one API Gateway
   * uses; a small default keeps tokens from a slightly-ahead clock working.
   * @default 60
   */
  readonly clockSkewSeconds?: number;
}

export interface AuthorizeRequest {
  /** The request's Authorization header, as received (undefined when absent). */
  readonly authorization: string | undefined;
  /** The route's authorization scopes; empty means any valid token will do. */
  readonly routeScopes: readonly string[];
  readonly config: JwtAuthorizerConfig;
  readonly now?: Date;
}

export interface Authorized {
  readonly ok: true;
  /** Claims as API Gateway passes them in `requestContext.authorizer.jwt.claims`. */
  readonly claims: Record<string, string>;
  /** `requestContext.authorizer.jwt.scopes`: the token's scopes, or null (see `tokenScopes`). */
  readonly scopes: string[] | null;
}

export interface Refused {
  readonly ok: false;
  readonly statusCode: 401 | 403;
  readonly headers: Record<string, string>;
  /** `{"message":"Unauthorized"}` or `{"message":"Forbidden"}`. */
  readonly body: string;
  /**
   * Why, for logs and tests: the same text as the www-authenticate error_description, printable
   * ASCII only (token-controlled text such as an alg name cannot forge a log line).
   */
  readonly reason: string;
}

export type AuthorizationResult = Authorized | Refused;

export const DEFAULT_ALGORITHMS = ["RS256"] as const;
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** Token-controlled text (an alg name) must not break the quoted header value or the header itself. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]|"/g, "?").slice(0, 300);
}

function challenge(
  error: "invalid_request" | "invalid_token" | "insufficient_scope",
  description: string,
  scope = "",
) {
  // The shape AWS documents: Bearer scope="" error="invalid_token" error_description="…".
  return `Bearer scope="${headerSafe(scope)}" error="${error}" error_description="${headerSafe(description)}"`;
}

function unauthorized(error: "invalid_request" | "invalid_token", description: string): Refused {
  const reason = headerSafe(description);
  return {
    ok: false,
    statusCode: 401,
    headers: { "content-type": "application/json", "www-authenticate": challenge(error, reason) },
    body: JSON.stringify({ message: "Unauthorized" }),
    reason,
  };
}

function forbidden(routeScopes: readonly string[], description: string): Refused {
  const reason = headerSafe(description);
  return {
    ok: false,
    statusCode: 403,
    headers: {
      "content-type": "application/json",
      "www-authenticate": challenge("insufficient_scope", reason, routeScopes.join(" ")),
    },
    body: JSON.stringify({ message: "Forbidden" }),
    reason,
  };
}

/** The token in the header: API Gateway accepts it alone or after the Bearer scheme. */
function tokenFrom(authorization: string): string | undefined {
  const trimmed = authorization.trim();
  const match = /^Bearer\s+(.*)$/i.exec(trimmed);
  const token = (match ? (match[1] ?? "") : trimmed).trim();
  return /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token) ? token : undefined;
}

/**
 * A claim value as API Gateway renders it for Lambda: every value a string. Strings pass
 * unchanged; numbers are their decimal text (`exp` arrives as "1612061676"); booleans "true" and
 * "false"; arrays as Go prints a slice, "[a b c]", elements unquoted and space-separated; objects
 * as Go prints a map, "map[k1:v1 k2:v2]" with keys sorted; null as Go's "<nil>". API Gateway's
 * authorizer formats claims with Go's fmt, which is where "[a b]" and "map[...]" come from.
 */
export function flattenClaimValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(flattenClaimValue).join(" ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `map[${entries.map(([k, v]) => `${k}:${flattenClaimValue(v)}`).join(" ")}]`;
  }
  return String(value);
}

export function flattenClaims(payload: Readonly<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, flattenClaimValue(value)]));
}

/**
 * The token's scopes, read as the handlers read them (core/claims.ts `scopesOf`: `scope` and `scp`
 * together); undefined when the token has neither claim.
 */
export function tokenScopes(payload: Readonly<Record<string, unknown>>): string[] | undefined {
  if (payload.scope === undefined && payload.scp === undefined) return undefined;
  return scopesOf(jwtPayloadClaims(payload));
}

function audiencesOf(payload: JWTPayload): string[] {
  if (payload.aud !== undefined) {
    if (typeof payload.aud === "string") return [payload.aud];
    return Array.isArray(payload.aud) ? payload.aud.filter((a): a is string => typeof a === "string") : [];
  }
  return typeof payload.client_id === "string" ? [payload.client_id] : [];
}

function isNumericDate(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function describeVerifyFailure(error: unknown): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  if (error instanceof errors.JWKSNoMatchingKey)
    return "no key in the issuer's key set matches the token's kid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not allowed";
  if (error instanceof errors.JOSEError || error instanceof SyntaxError) return "the token is malformed";
  throw error;
}

/** Applies the JWT authorizer's rules to one request. Never throws for a bad token. */
export async function authorizeRequest(request: AuthorizeRequest): Promise<AuthorizationResult> {
  const { authorization, routeScopes, config } = request;
  const now = request.now ?? new Date();
  const algorithms = [...(config.algorithms ?? DEFAULT_ALGORITHMS)];
  const skew = config.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;

  if (authorization === undefined || authorization.trim() === "") {
    return unauthorized("invalid_request", "the request has no Authorization header");
  }
  const token = tokenFrom(authorization);
  if (!token) {
    return unauthorized(
      "invalid_request",
      "the Authorization header does not hold a JWT (expected: Bearer <token>)",
    );
  }

  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return unauthorized("invalid_token", "the token is malformed");
  }
  // Checked before any key is touched: `none` and HMAC tokens never reach signature verification.
  if (typeof header.alg !== "string" || !algorithms.includes(header.alg)) {
    return unauthorized(
      "invalid_token",
      `the token's signing algorithm ${String(header.alg).slice(0, 20)} is not allowed (only ${algorithms.join(", ")})`,
    );
  }
  if (typeof header.kid !== "string" || !config.jwks.keys.some((key) => key.kid === header.kid)) {
    return unauthorized("invalid_token", "no key in the issuer's key set matches the token's kid");
  }

  let payload: JWTPayload;
  try {
    const { payload: bytes } = await compactVerify(token, createLocalJWKSet(config.jwks), { algorithms });
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new errors.JWTInvalid();
    payload = parsed as JWTPayload;
  } catch (error) {
    return unauthorized("invalid_token", describeVerifyFailure(error));
  }

  // Claims in the order AWS lists them: iss, aud (or client_id), exp, nbf, iat.
  if (payload.iss !== config.issuer) {
    return unauthorized("invalid_token", "the token does not have a valid issuer");
  }
  if (!audiencesOf(payload).some((audience) => config.audiences.includes(audience))) {
    // Verbatim the description AWS documents for this case.
    return unauthorized("invalid_token", "the token does not have a valid audience");
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const { exp, nbf, iat } = payload;
  if (!isNumericDate(exp)) return unauthorized("invalid_token", "the token has no valid exp claim");
  if (nowSeconds >= exp + skew) return unauthorized("invalid_token", "the token has expired");
  if (nbf !== undefined && (!isNumericDate(nbf) || nowSeconds < nbf - skew)) {
    return unauthorized("invalid_token", "the token is not valid yet");
  }
  if (iat !== undefined && (!isNumericDate(iat) || nowSeconds < iat - skew)) {
    return unauthorized("invalid_token", "the token was issued in the future");
  }

  const scopes = tokenScopes(payload);
  if (routeScopes.length > 0 && !scopes?.some((scope) => routeScopes.includes(scope))) {
    return forbidden(routeScopes, `the token has none of the route's scopes (${routeScopes.join(", ")})`);
  }
  return {
    ok: true,
    claims: flattenClaims(payload),
    // A route without authorization scopes gets null, as observed from API Gateway.
    scopes: routeScopes.length > 0 && scopes ? scopes : null,
  };
}
