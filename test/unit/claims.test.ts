import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  apiGatewayClaims,
  ClaimError,
  jwtPayloadClaims,
  principalFromClaims,
  resolveActor,
  scopesOf,
  tenantOf,
} from "../../lambda/core/claims";

describe("claims as API Gateway passes them", () => {
  it.each([
    {
      name: "flattened array",
      claims: { roles: "[admin auditor]" },
      claim: "roles",
      list: ["admin", "auditor"],
    },
    { name: "single string", claims: { roles: "admin" }, claim: "roles", list: ["admin"] },
    { name: "space-delimited scope", claims: { scope: "a b  c" }, claim: "scope", list: ["a", "b", "c"] },
    { name: "absent", claims: {}, claim: "roles", list: [] },
    { name: "empty flattened array", claims: { roles: "[]" }, claim: "roles", list: [] },
  ])("list: $name", ({ claims, claim, list }) => {
    expect(apiGatewayClaims(claims).list(claim)).toEqual(list);
  });

  it.each(["[a b]", "[alice]", "[]"])("single refuses the flattened array %s", (value) => {
    expect(() => apiGatewayClaims({ sub: value }).single("sub")).toThrowError(ClaimError);
    try {
      apiGatewayClaims({ sub: value }).single("sub");
    } catch (error) {
      expect((error as ClaimError).code).toBe("claim_not_single");
    }
  });

  it("reads numeric claims given as strings, and refuses non-integers", () => {
    expect(apiGatewayClaims({ exp: "1790000000" }).integer("exp")).toBe(1790000000);
    expect(() => apiGatewayClaims({ exp: "soon" }).integer("exp")).toThrowError(ClaimError);
  });

  it("does not read inherited properties as claims", () => {
    expect(apiGatewayClaims({}).single("constructor")).toBeUndefined();
    expect(apiGatewayClaims({}).single("toString")).toBeUndefined();
  });

  it.each([
    { name: "scope", claims: { scope: "sealtrail/write sealtrail/read" } },
    { name: "scp flattened", claims: { scp: "[sealtrail/write sealtrail/read]" } },
    {
      name: "both, deduplicated",
      claims: { scope: "sealtrail/write", scp: "[sealtrail/write sealtrail/read]" },
    },
  ])("scopes from $name", ({ claims }) => {
    expect(scopesOf(apiGatewayClaims(claims)).sort()).toEqual(["sealtrail/read", "sealtrail/write"]);
  });

  it("property: any list of words survives API Gateway's flattening", () => {
    const word = fc.stringMatching(/^[A-Za-z0-9/:._-]{1,20}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), (words) => {
        expect(apiGatewayClaims({ roles: `[${words.join(" ")}]` }).list("roles")).toEqual(words);
      }),
    );
  });
});

describe("claims of a verified JWT payload", () => {
  it("keeps real arrays and refuses an array where one string is needed", () => {
    const claims = jwtPayloadClaims({ sub: "alice", aud: ["a", "b"], scp: ["x"], iat: 5 });
    expect(claims.list("aud")).toEqual(["a", "b"]);
    expect(claims.integer("iat")).toBe(5);
    expect(() => claims.single("aud")).toThrowError(ClaimError);
  });
});

describe("principals", () => {
  it("maps a Cognito access token (client_id, no aud, cognito:groups)", () => {
    const principal = principalFromClaims(
      apiGatewayClaims({
        sub: "u-1",
        iss: "https://cognito-idp.eu-west-1.amazonaws.com/pool",
        client_id: "app-client",
        scope: "sealtrail/write",
        "cognito:groups": "[admins]",
        origin_jti: "o",
        jti: "j-1",
        exp: "100",
        iat: "50",
      }),
      true,
    );
    expect(principal).toEqual({
      sub: "u-1",
      iss: "https://cognito-idp.eu-west-1.amazonaws.com/pool",
      session_id: null,
      token_id: "j-1",
      token_exp: 100,
      token_iat: 50,
      client_id: "app-client",
      azp: null,
      aud: [],
      roles: ["admins"],
      scopes: ["sealtrail/write"],
      verified: true,
    });
  });

  it("requires sub", () => {
    expect(() => principalFromClaims(apiGatewayClaims({ iss: "x" }), true)).toThrowError(/sub/);
  });

  it("resolves the actor by the design's rules", () => {
    const reporter = principalFromClaims(apiGatewayClaims({ sub: "svc" }), true);
    const subject = principalFromClaims(jwtPayloadClaims({ sub: "alice" }), true);
    expect(resolveActor(reporter, undefined, undefined)).toBe(reporter);
    expect(resolveActor(reporter, subject, undefined)).toBe(subject);
    expect(resolveActor(reporter, undefined, { sub: "bob" })).toMatchObject({ sub: "bob", verified: false });
  });

  it("takes the tenant from the configured claim only, as one string", () => {
    expect(tenantOf(apiGatewayClaims({ org: "acme" }), undefined)).toBe("default");
    expect(tenantOf(apiGatewayClaims({ org: "acme" }), "org")).toBe("acme");
    expect(() => tenantOf(apiGatewayClaims({ org: "[acme other]" }), "org")).toThrowError(ClaimError);
    expect(() => tenantOf(apiGatewayClaims({}), "org")).toThrowError(ClaimError);
  });
});
