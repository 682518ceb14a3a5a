/** Helpers shared by the local-mode e2e suites. */
import { createHmac, createPublicKey, type JsonWebKey } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { base64url, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import type { LocalIssuer } from "../../local/issuer";
import type { TestArchive } from "../support/aws";

export const EXAMPLE_EVENTS = {
  events: [{ action: "document.read", outcome: "success", resource: { type: "document", id: "42" } }],
};

/** Everything the archive holds: every object version and delete marker, every table item. */
export async function archiveContents(archive: TestArchive): Promise<{ objects: string[]; items: number }> {
  const versions = await archive.s3.send(new ListObjectVersionsCommand({ Bucket: archive.bucket }));
  const scan = await archive.dynamo.send(new ScanCommand({ TableName: archive.table }));
  return {
    objects: [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].map((v) => v.Key ?? "?"),
    items: scan.Count ?? scan.Items?.length ?? 0,
  };
}

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

export interface BadToken {
  readonly name: string;
  readonly status: 401 | 403;
  /** The Authorization header to send; undefined sends none. */
  authorization(issuer: LocalIssuer): Promise<string | undefined>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function claims(issuer: LocalIssuer, overrides: JWTPayload = {}): JWTPayload {
  const now = nowSeconds();
  return {
    iss: issuer.issuer,
    aud: issuer.audience,
    sub: "mallory",
    scope: DEFAULT_SCOPES.write,
    iat: now,
    nbf: now,
    exp: now + 600,
    ...overrides,
  };
}

async function signed(
  issuer: LocalIssuer,
  extraClaims: Record<string, unknown>,
  scope: string = DEFAULT_SCOPES.write,
) {
  return `Bearer ${await issuer.signToken({ scope, sub: "mallory", extraClaims })}`;
}

/** HS256 keyed with the PEM of the issuer's RSA public key: the classic key-confusion forgery. */
function hmacForgery(issuer: LocalIssuer): string {
  const pem = createPublicKey({ key: issuer.publicJwks().keys[0] as JsonWebKey, format: "jwk" })
    .export({ type: "spki", format: "pem" })
    .toString();
  const input = `${encode({ alg: "HS256", typ: "JWT", kid: issuer.kid })}.${encode(claims(issuer))}`;
  return `Bearer ${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
}

/** Every way the authorizer refuses a request to a route that needs the write scope. */
export const BAD_TOKENS: readonly BadToken[] = [
  { name: "no Authorization header", status: 401, authorization: async () => undefined },
  { name: "malformed Authorization header", status: 401, authorization: async () => "Basic dXNlcjpwYXNz" },
  { name: "Bearer with garbage", status: 401, authorization: async () => "Bearer abc.def.ghi" },
  {
    name: "expired token",
    status: 401,
    authorization: (issuer) => {
      const now = nowSeconds();
      return signed(issuer, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
    },
  },
  {
    name: "token not yet valid (nbf)",
    status: 401,
    authorization: (issuer) => signed(issuer, { nbf: nowSeconds() + 3600 }),
  },
  {
    name: "wrong issuer",
    status: 401,
    authorization: (issuer) => signed(issuer, { iss: "https://evil.example.com" }),
  },
  { name: "wrong audience", status: 401, authorization: (issuer) => signed(issuer, { aud: "someone-else" }) },
  {
    name: "alg: none",
    status: 401,
    authorization: async (issuer) =>
      `Bearer ${encode({ alg: "none", kid: issuer.kid })}.${encode(claims(issuer))}.`,
  },
  {
    name: "HS256 keyed with the RSA public key",
    status: 401,
    authorization: async (issuer) => hmacForgery(issuer),
  },
  {
    name: "unknown kid",
    status: 401,
    authorization: async (issuer) => {
      const { privateKey } = await generateKeyPair("RS256");
      const token = await new SignJWT(claims(issuer))
        .setProtectedHeader({ alg: "RS256", kid: "someone-elses-key" })
        .sign(privateKey);
      return `Bearer ${token}`;
    },
  },
  {
    name: "tampered payload (read token rewritten to write)",
    status: 401,
    authorization: async (issuer) => {
      const [head, , signature] = (await signed(issuer, {}, DEFAULT_SCOPES.read))
        .slice("Bearer ".length)
        .split(".");
      return `Bearer ${head}.${encode(claims(issuer))}.${signature}`;
    },
  },
  {
    name: "valid token without the write scope",
    status: 403,
    authorization: (issuer) => signed(issuer, {}, DEFAULT_SCOPES.read),
  },
];
