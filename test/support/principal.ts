import type { Principal } from "../../lambda/core/schema";

/** A verified principal as the authorizer's claims give it: a service with the write scope by default. */
export function testPrincipal(overrides: Partial<Principal> = {}): Principal {
  return {
    sub: "svc",
    iss: "https://issuer.test",
    session_id: null,
    token_id: "j",
    token_exp: 2,
    token_iat: 1,
    client_id: null,
    azp: null,
    aud: ["sealtrail"],
    roles: [],
    scopes: ["sealtrail/write"],
    verified: true,
    ...overrides,
  };
}
