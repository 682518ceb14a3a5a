/**
 * Turns token claims into the `reporter` and `actor` of a record, following the design's actor
 * rules. Claims arrive in two forms: from API Gateway's JWT authorizer (every value a string,
 * arrays flattened to "[a b]") and from a token verified here with jose (real JSON types).
 */
import type { EventInput, Principal } from "./schema";

export class ClaimError extends Error {
  constructor(
    readonly code: "missing_claim" | "claim_not_single" | "invalid_claim",
    readonly claim: string,
    message: string,
  ) {
    super(message);
    this.name = "ClaimError";
  }
}

/** Uniform read access to claims, whatever form they arrived in. */
export interface ClaimSource {
  /** One string value; refuses a list, since a list where one value is expected is ambiguous. */
  single(name: string): string | undefined;
  /** Zero or more string values (a list, "[a b]", or a space-delimited string). */
  list(name: string): string[];
  /** A numeric date or count claim. */
  integer(name: string): number | undefined;
}

/** API Gateway's rendering of a JSON array claim: "[a b c]". */
const FLATTENED_ARRAY = /^\[.*\]$/s;

function splitWords(value: string): string[] {
  return value.split(/\s+/).filter((word) => word.length > 0);
}

function parseInteger(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(number))
    throw new ClaimError("invalid_claim", name, `claim "${name}" must be an integer`);
  return number;
}

/** Claims from `requestContext.authorizer.jwt.claims` of an HTTP API payload v2 event. */
export function apiGatewayClaims(claims: Readonly<Record<string, unknown>>): ClaimSource {
  const raw = (name: string): unknown => (Object.hasOwn(claims, name) ? claims[name] : undefined);
  return {
    single(name) {
      const value = raw(name);
      if (value === undefined || value === null) return undefined;
      if (Array.isArray(value) || (typeof value === "string" && FLATTENED_ARRAY.test(value))) {
        throw new ClaimError("claim_not_single", name, `claim "${name}" must be a single string, not a list`);
      }
      if (typeof value === "object") {
        throw new ClaimError("invalid_claim", name, `claim "${name}" must be a single string`);
      }
      return String(value);
    },
    list(name) {
      const value = raw(name);
      if (value === undefined || value === null) return [];
      if (Array.isArray(value)) return value.map(String);
      const text = String(value);
      return splitWords(FLATTENED_ARRAY.test(text) ? text.slice(1, -1) : text);
    },
    integer(name) {
      return parseInteger(name, raw(name));
    },
  };
}

/** Claims of a JWT payload verified by jose. */
export function jwtPayloadClaims(payload: Readonly<Record<string, unknown>>): ClaimSource {
  const raw = (name: string): unknown => (Object.hasOwn(payload, name) ? payload[name] : undefined);
  return {
    single(name) {
      const value = raw(name);
      if (value === undefined || value === null) return undefined;
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      throw new ClaimError(
        Array.isArray(value) ? "claim_not_single" : "invalid_claim",
        name,
        `claim "${name}" must be a single string`,
      );
    },
    list(name) {
      const value = raw(name);
      if (value === undefined || value === null) return [];
      if (Array.isArray(value)) return value.filter((item) => typeof item === "string");
      return typeof value === "string" ? splitWords(value) : [];
    },
    integer(name) {
      return parseInteger(name, raw(name));
    },
  };
}

/** OAuth scopes: `scope` (space-delimited, RFC 8693) or `scp` (Okta, Azure: list or string). */
export function scopesOf(claims: ClaimSource): string[] {
  return [...new Set([...claims.list("scope"), ...claims.list("scp")])];
}

/** Builds a principal from a token's claims. `sub` is required. */
export function principalFromClaims(claims: ClaimSource, verified: boolean): Principal {
  const sub = claims.single("sub");
  if (!sub) throw new ClaimError("missing_claim", "sub", 'the token has no "sub" claim');
  return {
    sub,
    iss: claims.single("iss") ?? null,
    // OIDC's `sid`; some issuers use `session_id`.
    session_id: claims.single("sid") ?? claims.single("session_id") ?? null,
    token_id: claims.single("jti") ?? null,
    token_exp: claims.integer("exp") ?? null,
    token_iat: claims.integer("iat") ?? null,
    // Cognito access tokens carry `client_id` instead of `aud`; Okta uses `cid`.
    client_id: claims.single("client_id") ?? claims.single("cid") ?? null,
    azp: claims.single("azp") ?? null,
    aud: claims.list("aud"),
    roles: [...new Set([...claims.list("roles"), ...claims.list("cognito:groups")])],
    scopes: scopesOf(claims),
    verified,
  };
}

/** An actor the reporter asserts in the body: recorded as such, never as verified. */
export function assertedActor(actor: NonNullable<EventInput["actor"]>): Principal {
  return {
    sub: actor.sub,
    iss: actor.iss ?? null,
    session_id: actor.session_id ?? null,
    token_id: actor.token_id ?? null,
    token_exp: actor.token_exp ?? null,
    token_iat: actor.token_iat ?? null,
    client_id: actor.client_id ?? null,
    azp: actor.azp ?? null,
    aud: [],
    roles: actor.roles ?? [],
    scopes: [],
    verified: false,
  };
}

/**
 * The design's actor rules, per event: a verified subject token wins; else an actor in the body
 * is recorded as asserted by the reporter; else the reporter acted on its own behalf.
 */
export function resolveActor(
  reporter: Principal,
  subject: Principal | undefined,
  bodyActor: EventInput["actor"],
): Principal {
  if (subject) return subject;
  if (bodyActor) return assertedActor(bodyActor);
  return reporter;
}

/** The tenant of a caller: its configured claim (one plain string), or "default" when none is configured. */
export function tenantOf(claims: ClaimSource, tenantClaim: string | undefined): string {
  if (!tenantClaim) return "default";
  const tenant = claims.single(tenantClaim);
  if (!tenant) {
    throw new ClaimError(
      "missing_claim",
      tenantClaim,
      `the token has no "${tenantClaim}" claim naming its tenant`,
    );
  }
  return tenant;
}

/** The verified principal and the tenant of a caller's claims; throws ClaimError when either is unusable. */
export function verifiedCallerOf(
  claims: ClaimSource,
  tenantClaim: string | undefined,
): { readonly principal: Principal; readonly tenant: string } {
  return { principal: principalFromClaims(claims, true), tenant: tenantOf(claims, tenantClaim) };
}

/** What API Gateway's JWT authorizer hands a handler: the verified claims and the token's scopes. */
export interface AuthorizerContext {
  /** `requestContext.authorizer.jwt.claims`: strings, arrays as "[a b]". */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** `requestContext.authorizer.jwt.scopes`. */
  readonly scopes: readonly string[] | undefined;
}

/** A caller allowed in: who it is, its tenant, and every scope its token carries. */
export interface AuthorizedCaller {
  readonly principal: Principal;
  readonly tenant: string;
  readonly scopes: ReadonlySet<string>;
}

/** Why a caller is refused, as the API answers it. */
export interface CallerRefusal {
  readonly status: 401 | 403;
  readonly code: string;
  readonly message: string;
  readonly details?: { readonly claim: string };
}

/** What each kind of route needs a token for: the refusal names it. */
const ACCESS_PURPOSES = { write: "send events", read: "read events" } as const;

/** The deployment's settings the first step reads (SealtrailConfig has them). */
export interface AccessSettings {
  readonly scopes: { readonly write: string; readonly read: string };
  readonly tenantClaim?: string;
}

/** authorizeCaller for a write (POST /v1/events) or read route, with the deployment's scope. */
export function authorizeAccess(
  context: AuthorizerContext,
  settings: AccessSettings,
  access: keyof typeof ACCESS_PURPOSES,
): ReturnType<typeof authorizeCaller> {
  return authorizeCaller(context, {
    scope: settings.scopes[access],
    purpose: ACCESS_PURPOSES[access],
    tenantClaim: settings.tenantClaim,
  });
}

/**
 * The step every API route takes first. The authorizer checked the token; the handler still refuses a
 * request without claims or without `scope` (what the token needs it for, in `purpose`), and one whose
 * claims name no subject or (when configured) no tenant.
 */
export function authorizeCaller(
  context: AuthorizerContext,
  required: { readonly scope: string; readonly purpose: string; readonly tenantClaim: string | undefined },
):
  | { readonly ok: true; readonly caller: AuthorizedCaller }
  | { readonly ok: false; readonly refusal: CallerRefusal } {
  if (!context.claims || Object.keys(context.claims).length === 0) {
    return {
      ok: false,
      refusal: {
        status: 401,
        code: "missing_claims",
        message: "the request carries no verified token claims",
      },
    };
  }
  const claims = apiGatewayClaims(context.claims);
  const scopes = new Set([...(context.scopes ?? []), ...scopesOf(claims)]);
  if (!scopes.has(required.scope)) {
    return {
      ok: false,
      refusal: {
        status: 403,
        code: "missing_scope",
        message: `the token needs the "${required.scope}" scope to ${required.purpose}`,
      },
    };
  }
  try {
    return { ok: true, caller: { ...verifiedCallerOf(claims, required.tenantClaim), scopes } };
  } catch (error) {
    if (!(error instanceof ClaimError)) throw error;
    return {
      ok: false,
      refusal: { status: 401, code: error.code, message: error.message, details: { claim: error.claim } },
    };
  }
}
