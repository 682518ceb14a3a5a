/**
 * Local mode's JWT authorizer must refuse and accept exactly what API Gateway HTTP API's JWT
 * authorizer does, and hand the handler claims in the same flattened form.
 */
import { createHmac, createPublicKey, type JsonWebKey } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import {
  type AuthorizationResult,
  authorizeRequest,
  flattenClaimValue,
  type JwtAuthorizerConfig,
} from "../../local/authorizer";
import { LOCAL_AUDIENCE, type LocalIssuer, openLocalIssuer } from "../../local/issuer";

const ISSUER = "http://127.0.0.1:3000";
const NOW = new Date("2030-01-01T00:00:00Z");
const NOW_S = Math.floor(NOW.getTime() / 1000);
const WRITE = [DEFAULT_SCOPES.write];

let stateDir: string;
let issuer: LocalIssuer;
let config: JwtAuthorizerConfig;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "sealtrail-authorizer-"));
  issuer = await openLocalIssuer({ issuer: ISSUER, stateDir });
  config = { issuer: ISSUER, audiences: [LOCAL_AUDIENCE], jwks: issuer.publicJwks() };
});

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** A token from the local issuer at NOW with the write scope, with claims overridden. */
function token(
  extraClaims: Record<string, unknown> = {},
  scope: string = DEFAULT_SCOPES.write,
): Promise<string> {
  return issuer.signToken({ scope, now: NOW, extraClaims });
}

function authorize(authorization: string | undefined, routeScopes: readonly string[] = WRITE) {
  return authorizeRequest({ authorization, routeScopes, config, now: NOW });
}

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

function standardPayload(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: LOCAL_AUDIENCE,
    sub: "dev-user",
    scope: DEFAULT_SCOPES.write,
    iat: NOW_S,
    nbf: NOW_S,
    exp: NOW_S + 3600,
    ...overrides,
  };
}

/** HS256 keyed with the bytes of the issuer's public key: the classic RS/HS key-confusion forgery. */
function hmacForgery(secret: string | Buffer): string {
  const signingInput = `${encode({ alg: "HS256", typ: "JWT", kid: issuer.kid })}.${encode(standardPayload())}`;
  const signature = createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

function publicKeyPem(): string {
  const [jwk] = issuer.publicJwks().keys;
  return createPublicKey({ key: jwk as JsonWebKey, format: "jwk" })
    .export({ type: "spki", format: "pem" })
    .toString();
}

function expectUnauthorized(result: AuthorizationResult, description: RegExp): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.statusCode).toBe(401);
  expect(JSON.parse(result.body)).toEqual({ message: "Unauthorized" });
  expect(result.headers["www-authenticate"]).toMatch(
    /^Bearer scope="" error="invalid_(token|request)" error_description="/,
  );
  expect(result.headers["www-authenticate"]).toMatch(description);
  expect(result.headers["www-authenticate"]).toMatch(/^[\x20-\x7e]+$/);
  // Local mode logs the reason: the same words as the header, and nothing a token could use to forge a log line.
  expect(result.headers["www-authenticate"]).toContain(`error_description="${result.reason}"`);
  expect(result.reason).toMatch(/^[\x20-\x7e]+$/);
}

describe("JWT authorizer: refusals (401)", () => {
  const cases: Array<{ name: string; header: () => Promise<string | undefined>; description: RegExp }> = [
    {
      name: "missing Authorization header",
      header: async () => undefined,
      description: /no Authorization header/,
    },
    { name: "empty Authorization header", header: async () => "", description: /no Authorization header/ },
    {
      name: "malformed header: Basic scheme",
      header: async () => "Basic dXNlcjpwYXNz",
      description: /does not hold a JWT/,
    },
    {
      name: "malformed header: Bearer without a token",
      header: async () => "Bearer",
      description: /does not hold a JWT/,
    },
    {
      name: "malformed header: not a JWT",
      header: async () => "Bearer not-a-jwt",
      description: /does not hold a JWT/,
    },
    {
      name: "malformed token: three parts of garbage",
      header: async () => "Bearer abc.def.ghi",
      description: /malformed/,
    },
    {
      name: "expired",
      header: async () =>
        `Bearer ${await token({ iat: NOW_S - 7200, nbf: NOW_S - 7200, exp: NOW_S - 3600 })}`,
      description: /has expired/,
    },
    {
      name: "not yet valid (nbf an hour ahead)",
      header: async () => `Bearer ${await token({ nbf: NOW_S + 3600, exp: NOW_S + 7200 })}`,
      description: /not valid yet/,
    },
    {
      name: "issued in the future (iat an hour ahead)",
      header: async () => `Bearer ${await token({ iat: NOW_S + 3600, exp: NOW_S + 7200 })}`,
      description: /issued in the future/,
    },
    { name: "no exp", header: async () => `Bearer ${await token({ exp: undefined })}`, description: /exp/ },
    {
      name: "wrong issuer",
      header: async () => `Bearer ${await token({ iss: "https://evil.example.com" })}`,
      description: /does not have a valid issuer/,
    },
    {
      name: "wrong audience",
      header: async () => `Bearer ${await token({ aud: "someone-else" })}`,
      description: /error_description="the token does not have a valid audience"/,
    },
    {
      name: "aud decides when both aud and client_id are present",
      header: async () => `Bearer ${await token({ aud: "someone-else", client_id: LOCAL_AUDIENCE })}`,
      description: /valid audience/,
    },
    {
      name: "Cognito-style token whose client_id is not an audience",
      header: async () => `Bearer ${await token({ aud: undefined, client_id: "other-client" })}`,
      description: /valid audience/,
    },
    {
      name: "alg: none",
      header: async () =>
        `Bearer ${encode({ alg: "none", typ: "JWT", kid: issuer.kid })}.${encode(standardPayload())}.`,
      description: /algorithm none is not allowed/,
    },
    {
      name: "an alg that tries to break out of the www-authenticate header",
      header: async () =>
        `Bearer ${encode({ alg: 'x"\r\nX-Evil: 1', kid: issuer.kid })}.${encode(standardPayload())}.c2ln`,
      description: /algorithm x\?\?\?X-Evil: 1 is not allowed/,
    },
    {
      name: "HS256 signed with the RSA public key's PEM",
      header: async () => `Bearer ${hmacForgery(publicKeyPem())}`,
      description: /algorithm HS256 is not allowed/,
    },
    {
      name: "HS256 signed with the RSA public key's JWK",
      header: async () => `Bearer ${hmacForgery(JSON.stringify(issuer.publicJwks().keys[0]))}`,
      description: /algorithm HS256 is not allowed/,
    },
    {
      name: "unknown kid",
      header: async () => {
        const { privateKey } = await generateKeyPair("RS256");
        return `Bearer ${await new SignJWT(standardPayload()).setProtectedHeader({ alg: "RS256", kid: "unknown" }).sign(privateKey)}`;
      },
      description: /matches the token's kid/,
    },
    {
      name: "no kid",
      header: async () => `Bearer ${await issuer.signPayload(standardPayload(), { kid: undefined })}`,
      description: /matches the token's kid/,
    },
    {
      name: "another key claiming the issuer's kid",
      header: async () => {
        const { privateKey } = await generateKeyPair("RS256");
        return `Bearer ${await new SignJWT(standardPayload()).setProtectedHeader({ alg: "RS256", kid: issuer.kid }).sign(privateKey)}`;
      },
      description: /signature is invalid/,
    },
    {
      name: "tampered payload (claim changed, signature kept)",
      header: async () => {
        const [head, , signature] = (await token()).split(".");
        return `Bearer ${head}.${encode(standardPayload({ sub: "admin", scope: DEFAULT_SCOPES.admin }))}.${signature}`;
      },
      description: /signature is invalid/,
    },
  ];

  it.each(cases)("$name", async ({ header, description }) => {
    const result = await authorize(await header());

    expectUnauthorized(result, description);
  });

  it("answers a wrong audience with the header AWS's troubleshooting page shows, byte for byte", async () => {
    const result = await authorize(`Bearer ${await token({ aud: "someone-else" })}`);

    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.headers["www-authenticate"]).toBe(
      'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"',
    );
  });
});

describe("JWT authorizer: route scopes (403)", () => {
  it("refuses a valid token without the route's scope with 403 Forbidden", async () => {
    const result = await authorize(`Bearer ${await token({}, DEFAULT_SCOPES.read)}`, WRITE);

    expect(result).toMatchObject({
      ok: false,
      statusCode: 403,
      body: JSON.stringify({ message: "Forbidden" }),
    });
    if (!result.ok) {
      expect(result.headers["www-authenticate"]).toMatch(/error="insufficient_scope"/);
      expect(result.headers["www-authenticate"]).toContain(`scope="${DEFAULT_SCOPES.write}"`);
    }
  });

  it("refuses a valid token with no scope claim at all with 403", async () => {
    const result = await authorize(`Bearer ${await token({ scope: undefined })}`, WRITE);

    expect(result).toMatchObject({ ok: false, statusCode: 403 });
  });

  it("does not match a scope by substring", async () => {
    const result = await authorize(`Bearer ${await token({}, `${DEFAULT_SCOPES.write}x sealtrail`)}`, WRITE);

    expect(result).toMatchObject({ ok: false, statusCode: 403 });
  });
});

describe("JWT authorizer: accepted tokens", () => {
  it("accepts a valid token and passes its claims and scopes", async () => {
    const jwt = await token({}, `${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`);

    const result = await authorize(`Bearer ${jwt}`);

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.scopes).toEqual([DEFAULT_SCOPES.write, DEFAULT_SCOPES.read]);
    expect(result.claims).toMatchObject({
      iss: ISSUER,
      aud: LOCAL_AUDIENCE,
      sub: "dev-user",
      scope: `${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`,
      iat: String(NOW_S),
      nbf: String(NOW_S),
      exp: String(NOW_S + 3600),
    });
    expect(result.claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ["lowercase scheme", (jwt: string) => `bearer ${jwt}`],
    ["the token alone (API Gateway's identity source may hold just the token)", (jwt: string) => jwt],
    ["extra spaces", (jwt: string) => `Bearer   ${jwt}  `],
  ])("accepts %s", async (_name, header) => {
    const result = await authorize(header(await token()));

    expect(result.ok).toBe(true);
  });

  it("accepts an aud list that contains a configured audience", async () => {
    const result = await authorize(`Bearer ${await token({ aud: ["other", LOCAL_AUDIENCE] })}`);

    expect(result.ok).toBe(true);
    if (result.ok) expect(result.claims.aud).toBe(`[other ${LOCAL_AUDIENCE}]`);
  });

  it("accepts scopes in an scp array", async () => {
    const result = await authorize(
      `Bearer ${await token({ scope: undefined, scp: [DEFAULT_SCOPES.read, DEFAULT_SCOPES.write] })}`,
    );

    expect(result).toMatchObject({ ok: true, scopes: [DEFAULT_SCOPES.read, DEFAULT_SCOPES.write] });
    if (result.ok) expect(result.claims.scp).toBe(`[${DEFAULT_SCOPES.read} ${DEFAULT_SCOPES.write}]`);
  });

  it("accepts scopes in a space-delimited scp string", async () => {
    const result = await authorize(
      `Bearer ${await token({ scope: undefined, scp: `x ${DEFAULT_SCOPES.write}` })}`,
    );

    expect(result).toMatchObject({ ok: true, scopes: ["x", DEFAULT_SCOPES.write] });
  });

  it("reads `scope` and `scp` together, as the handlers do: a scope in either admits the token", async () => {
    const result = await authorize(`Bearer ${await token({ scope: "x", scp: [DEFAULT_SCOPES.write] })}`, [
      DEFAULT_SCOPES.write,
    ]);

    // Assess: the local authorizer read `scope` alone when present, the handlers read both.
    expect(result).toMatchObject({ ok: true, scopes: ["x", DEFAULT_SCOPES.write] });
  });

  it("accepts a Cognito-style access token: client_id and no aud", async () => {
    const jwt = await token({ aud: undefined, client_id: LOCAL_AUDIENCE, token_use: "access" });

    const result = await authorize(`Bearer ${jwt}`);

    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.claims.client_id).toBe(LOCAL_AUDIENCE);
      expect(result.claims).not.toHaveProperty("aud");
    }
  });

  it("allows a small clock skew on exp", async () => {
    const result = await authorize(
      `Bearer ${await token({ iat: NOW_S - 3630, nbf: NOW_S - 3630, exp: NOW_S - 30 })}`,
    );

    expect(result.ok).toBe(true);
  });

  it("passes null scopes on a route that requires none", async () => {
    const result = await authorize(`Bearer ${await token()}`, []);

    expect(result).toMatchObject({ ok: true, scopes: null });
  });

  it("flattens claims the way API Gateway passes them to Lambda", async () => {
    const jwt = await token({
      "cognito:groups": ["admins", "auditors"],
      tenant: "acme",
      count: 42,
      ratio: 1.5,
      email_verified: true,
      disabled: false,
      address: { locality: "Paris", country: "FR" },
      nested: [["a", "b"], { k: [1, 2] }],
      empty: [],
      gone: null,
    });

    const result = await authorize(`Bearer ${jwt}`);

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.claims).toMatchObject({
      "cognito:groups": "[admins auditors]",
      tenant: "acme",
      count: "42",
      ratio: "1.5",
      email_verified: "true",
      disabled: "false",
      address: "map[country:FR locality:Paris]",
      nested: "[[a b] map[k:[1 2]]]",
      empty: "[]",
      gone: "<nil>",
      exp: String(NOW_S + 3600),
    });
    for (const value of Object.values(result.claims)) expect(typeof value).toBe("string");
  });
});

describe("flattenClaimValue", () => {
  it.each([
    ["a string unchanged", "a b", "a b"],
    ["an integer as decimal text", 1612061676, "1612061676"],
    ["a string array as a Go slice", ["a", "b", "c"], "[a b c]"],
    ["a one-element array still bracketed", ["only"], "[only]"],
    ["a boolean", true, "true"],
    ["an object as a Go map with sorted keys", { b: 1, a: "x" }, "map[a:x b:1]"],
  ])("renders %s", (_name, value, expected) => {
    expect(flattenClaimValue(value)).toBe(expected);
  });
});

describe("local issuer", () => {
  it("keeps its key across restarts, in a file only its owner can read", async () => {
    const again = await openLocalIssuer({ issuer: ISSUER, stateDir });

    expect(again.kid).toBe(issuer.kid);
    expect(statSync(join(stateDir, "issuer-key.json")).mode & 0o777).toBe(0o600);
    const result = await authorize(
      `Bearer ${await again.signToken({ scope: DEFAULT_SCOPES.write, now: NOW })}`,
    );
    expect(result.ok).toBe(true);
  });

  it("names its key by the JWK thumbprint and publishes only the public part", async () => {
    const [jwk] = issuer.publicJwks().keys;

    expect(jwk).toBeDefined();
    expect(Object.keys(jwk ?? {}).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(jwk?.kid).toBe(await calculateJwkThumbprint({ kty: "RSA", n: jwk?.n, e: jwk?.e }));
  });

  it("signs tokens with iat, nbf, exp (ttl) and a fresh jti", async () => {
    const first = decodeJwt(
      await issuer.signToken({ scope: ["a", "b"], sub: "alice", ttlSeconds: 60, now: NOW }),
    );
    const second = decodeJwt(await issuer.signToken({ scope: "a", now: NOW }));

    expect(first).toMatchObject({ sub: "alice", scope: "a b", iat: NOW_S, nbf: NOW_S, exp: NOW_S + 60 });
    expect(first.jti).not.toBe(second.jti);
  });
});
