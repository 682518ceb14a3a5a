/**
 * Verifies a forwarded end-user token (X-Sealtrail-Subject-Token, or an event's `subject_token`).
 * The issuer must be configured; its keys come from the JWKS URL in configuration, never from the
 * token, and are cached across invocations by jose. The token must carry a configured audience
 * and be unexpired, or (per-event tokens, which wait in a client's batch) at most a leeway past `exp`.
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { ClaimError, type ClaimSource, jwtPayloadClaims, principalFromClaims } from "../core/claims";
import { type EventInput, LIMITS, type Principal } from "../core/schema";
import type { SubjectIssuer } from "../runtime/config";
import { type ApiResponse, errorResponse } from "../runtime/http";

export class SubjectTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubjectTokenError";
  }
}

/**
 * The issuer's keys could not be had (a timeout, an error answer, a JWKS that is not one): nothing is
 * known about the token, so the request is retryable (503), never refused as if the token were bad.
 */
export class SubjectKeysUnavailableError extends Error {
  constructor() {
    super("the subject token's issuer keys could not be fetched; retry later");
    this.name = "SubjectKeysUnavailableError";
  }
}

/** A JWKS fetch that failed, as jose reports it (or the network error it lets through). */
function keysUnavailable(error: unknown): boolean {
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    // A JWKS answer other than 200 is a plain JOSEError; a network failure is not a JOSEError at all.
    (error instanceof Error &&
      (!(error instanceof errors.JOSEError) || error.constructor === errors.JOSEError))
  );
}

/** What a failed jose verification means: a refusal, or keys that could not be had. */
function refusalOf(error: unknown): Error {
  return keysUnavailable(error) ? new SubjectKeysUnavailableError() : new SubjectTokenError(describe(error));
}

export interface VerifiedSubject {
  readonly principal: Principal;
  readonly claims: ClaimSource;
}

/** Asymmetric algorithms only: a JWKS holds public keys, so an HMAC token can never verify. */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const CLOCK_TOLERANCE_SECONDS = 30;

export interface VerifyOptions {
  /** Accept a token up to this long past its `exp` (its signature, issuer and audience still must hold). */
  readonly expiredLeewaySeconds?: number;
}

export class SubjectTokenVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly issuers: readonly SubjectIssuer[],
    private readonly keySetFor: (issuer: SubjectIssuer) => JWTVerifyGetKey = (issuer) =>
      createRemoteJWKSet(new URL(issuer.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 }),
  ) {}

  async verify(token: string, options: VerifyOptions = {}): Promise<VerifiedSubject> {
    if (token.length > LIMITS.maxSubjectTokenLength)
      throw new SubjectTokenError("the subject token is too long");
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new SubjectTokenError("the subject token is not a JWT");
    }
    const issuer = this.issuers.find((candidate) => candidate.issuer === unverified.iss);
    if (!issuer) throw new SubjectTokenError("the subject token's issuer is not configured for sealtrail");

    const verifyAt = (currentDate?: Date) =>
      jwtVerify(token, this.keySet(issuer), {
        issuer: issuer.issuer,
        algorithms: ALGORITHMS,
        requiredClaims: ["sub", "exp"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate,
      });
    let payload: JWTPayload;
    try {
      ({ payload } = await verifyAt());
    } catch (error) {
      const leeway = options.expiredLeewaySeconds ?? 0;
      if (!(error instanceof errors.JWTExpired) || leeway <= 0) throw refusalOf(error);
      // Every check again (signature included), as of `leeway` ago: only `exp` gains the leeway.
      // A token not yet valid then (nbf) is refused, which errs on the safe side.
      try {
        ({ payload } = await verifyAt(new Date(Date.now() - leeway * 1000)));
      } catch (again) {
        throw again instanceof errors.JWTExpired
          ? new SubjectTokenError(`the subject token expired more than ${leeway} seconds ago`)
          : refusalOf(again);
      }
    }
    // Checked here rather than by jose: Cognito access tokens carry client_id instead of aud.
    const claims = jwtPayloadClaims(payload as Record<string, unknown>);
    const audiences = [
      ...claims.list("aud"),
      ...(claims.single("client_id") ? [claims.single("client_id") as string] : []),
    ];
    if (!audiences.some((audience) => issuer.audiences.includes(audience))) {
      throw new SubjectTokenError("the subject token is not meant for sealtrail (audience)");
    }
    return { principal: principalFromClaims(claims, true), claims };
  }

  private keySet(issuer: SubjectIssuer): JWTVerifyGetKey {
    let keySet = this.keySets.get(issuer.issuer);
    if (!keySet) {
      keySet = this.keySetFor(issuer);
      this.keySets.set(issuer.issuer, keySet);
    }
    return keySet;
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the subject token has expired";
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the subject token's "${error.claim}" claim is invalid`;
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return "the subject token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return "the subject token's key is not in its issuer's JWKS";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the subject token's algorithm is not allowed";
  return "the subject token is invalid";
}

/** The verified actor of each event (undefined where none was forwarded), or the refusal to answer with. */
export type SubjectsOutcome =
  | { readonly ok: true; readonly subjects: ReadonlyArray<Principal | undefined> }
  | { readonly ok: false; readonly response: ApiResponse };

export interface SubjectsRequest {
  /** X-Sealtrail-Subject-Token: the actor of every event. */
  readonly headerToken: string | undefined;
  readonly events: readonly EventInput[];
  /** The reporter's tenant: a subject token's tenant claim must name the same one. */
  readonly tenant: string;
  readonly tenantClaim: string | undefined;
  /** How long past `exp` a per-event token is accepted. */
  readonly leewaySeconds: number;
}

/**
 * The design's subject-token rules for a whole request: the header's token names the actor of
 * every event; an event's own `subject_token` names its actor (a leeway past `exp` allowed, as it
 * may have waited in a client's batch). Not both; never with an actor in the body. One token that
 * does not verify refuses the whole request, naming its event; each distinct token is verified once.
 */
export async function resolveSubjects(
  verifier: SubjectTokenVerifier,
  request: SubjectsRequest,
): Promise<SubjectsOutcome> {
  const { events, headerToken } = request;
  const misplaced = misplacedToken(request);
  if (misplaced) return misplaced;

  const check = async (
    token: string,
    leewaySeconds: number,
  ): Promise<Principal | string | typeof KEYS_UNAVAILABLE> => {
    try {
      const verified = await verifier.verify(token, { expiredLeewaySeconds: leewaySeconds });
      if (request.tenantClaim && verified.claims.single(request.tenantClaim) !== request.tenant) {
        return "the subject token belongs to another tenant";
      }
      return verified.principal;
    } catch (error) {
      if (error instanceof SubjectTokenError || error instanceof ClaimError) return error.message;
      if (error instanceof SubjectKeysUnavailableError) return KEYS_UNAVAILABLE;
      throw error;
    }
  };
  const codeOf = (problem: string) =>
    problem === "the subject token belongs to another tenant"
      ? "subject_token_tenant_mismatch"
      : "invalid_subject_token";

  if (headerToken !== undefined) {
    const subject = await check(headerToken, 0);
    if (subject === KEYS_UNAVAILABLE) return keysUnavailableResponse();
    if (typeof subject === "string") return subjectRefusal(401, codeOf(subject), subject);
    return { ok: true, subjects: events.map(() => subject) };
  }
  const verifications = new Map<string, Promise<Principal | string | typeof KEYS_UNAVAILABLE>>();
  for (const event of events) {
    const token = event.subject_token;
    if (token !== undefined && !verifications.has(token)) {
      verifications.set(token, check(token, request.leewaySeconds));
    }
  }
  const results = new Map<string, Principal | string>();
  for (const [token, verification] of verifications) {
    const result = await verification;
    if (result === KEYS_UNAVAILABLE) return keysUnavailableResponse();
    results.set(token, result);
  }
  const subjects: Array<Principal | undefined> = [];
  for (const [index, event] of events.entries()) {
    const result = event.subject_token === undefined ? undefined : results.get(event.subject_token);
    if (typeof result === "string") return subjectRefusal(401, codeOf(result), result, index);
    subjects.push(result);
  }
  return { ok: true, subjects };
}

/** A refusal of the request, naming the event (and its field) when one event is to blame. */
function subjectRefusal(
  status: number,
  code: string,
  message: string,
  index?: number,
  path?: string,
): SubjectsOutcome {
  return {
    ok: false,
    response: errorResponse(
      status,
      code,
      index === undefined ? message : `events[${index}]: ${message}`,
      index === undefined
        ? {}
        : { errors: [{ index, path: path ?? `events[${index}].subject_token`, code, message }] },
    ),
  };
}

/** A subject token beside an actor, or in both the header and an event: refused before any is verified. */
function misplacedToken({ events, headerToken }: SubjectsRequest): SubjectsOutcome | undefined {
  for (const [index, event] of events.entries()) {
    const hasToken = headerToken !== undefined || event.subject_token !== undefined;
    if (hasToken && event.actor !== undefined) {
      return subjectRefusal(
        400,
        "actor_with_subject_token",
        "send either a subject token or an actor, not both: remove the actor, the subject token names it",
        index,
        `events[${index}].actor`,
      );
    }
    if (headerToken !== undefined && event.subject_token !== undefined) {
      return subjectRefusal(
        400,
        "subject_token_twice",
        "send the subject token either in X-Sealtrail-Subject-Token or in the event, not both",
        index,
      );
    }
  }
  return undefined;
}

const KEYS_UNAVAILABLE = Symbol("subject keys unavailable");

function keysUnavailableResponse(): SubjectsOutcome {
  return {
    ok: false,
    response: errorResponse(
      503,
      "subject_keys_unavailable",
      "the subject token's issuer keys could not be fetched, so nothing was decided about the token and nothing was written; retry the request (with the same Idempotency-Key)",
      {},
      { "retry-after": "5" },
    ),
  };
}
