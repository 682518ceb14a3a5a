/**
 * Verifies a forwarded end-user token (X-Sealtrail-Subject-Token). The issuer must be configured;
 * its keys come from the JWKS URL in configuration, never from the token, and are cached across
 * invocations by jose. The token must be unexpired and carry a configured audience.
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { SubjectIssuer } from "../config";
import { type ClaimSource, jwtPayloadClaims, principalFromClaims } from "../core/claims";
import type { Principal } from "../core/schema";

export class SubjectTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubjectTokenError";
  }
}

export interface VerifiedSubject {
  readonly principal: Principal;
  readonly claims: ClaimSource;
}

/** Asymmetric algorithms only: a JWKS holds public keys, so an HMAC token can never verify. */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_TOKEN_LENGTH = 16 * 1024;

export class SubjectTokenVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly issuers: readonly SubjectIssuer[],
    private readonly keySetFor: (issuer: SubjectIssuer) => JWTVerifyGetKey = (issuer) =>
      createRemoteJWKSet(new URL(issuer.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 }),
  ) {}

  async verify(token: string): Promise<VerifiedSubject> {
    if (token.length > MAX_TOKEN_LENGTH) throw new SubjectTokenError("the subject token is too long");
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new SubjectTokenError("the subject token is not a JWT");
    }
    const issuer = this.issuers.find((candidate) => candidate.issuer === unverified.iss);
    if (!issuer) throw new SubjectTokenError("the subject token's issuer is not configured for sealtrail");

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet(issuer), {
        issuer: issuer.issuer,
        algorithms: ALGORITHMS,
        requiredClaims: ["sub", "exp"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw new SubjectTokenError(describe(error));
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
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return "the subject token's issuer keys could not be fetched";
  }
  return "the subject token is invalid";
}
