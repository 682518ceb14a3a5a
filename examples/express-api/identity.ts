/**
 * The example's identity provider: local mode's development issuer (the key `npm start` keeps in
 * .sealtrail/), so the users' tokens are ones sealtrail itself trusts as subject tokens. In your app this
 * is your IdP (Cognito, Auth0, Keycloak…): tokens come from it, and the app verifies them against its JWKS.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import type { LocalIssuer } from "../../local/issuer.js";
import type { IdentityProvider } from "./app.js";

/** The scope of the users' tokens: they open this app, and never write to sealtrail. */
export const USER_SCOPE = "documents";

export function localIdentityProvider(issuer: LocalIssuer, jwksUrl: string): IdentityProvider {
  const keys = createRemoteJWKSet(new URL(jwksUrl));
  return {
    issue: ({ sub, sid, roles }) =>
      issuer.signToken({
        scope: USER_SCOPE,
        sub,
        ttlSeconds: 900,
        extraClaims: { sid, roles, azp: "example-web" },
      }),
    async verify(token) {
      const { payload } = await jwtVerify(token, keys, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ["RS256"],
      });
      return payload;
    },
  };
}
