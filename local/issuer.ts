/**
 * The local development token issuer: one RS256 key pair, kept in the state directory so that
 * tokens survive restarts, and the JWKS that local mode's authorizer verifies against.
 *
 * Local mode only. In AWS the issuer is whatever identity provider the deployment trusts.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from "jose";

/** Audience of every token the local issuer signs, and the one local mode's authorizer accepts. */
export const LOCAL_AUDIENCE = "sealtrail-local";
export const ISSUER_ALGORITHM = "RS256";
export const ISSUER_KEY_FILE = "issuer-key.json";

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Where local mode keeps its state (issuer key, local.json): `SEALTRAIL_STATE_DIR`, or
 * `.sealtrail/` in the project. Tests point it at a temporary directory.
 */
export function localStateDir(env: Record<string, string | undefined> = process.env): string {
  return env.SEALTRAIL_STATE_DIR ?? join(projectRoot, ".sealtrail");
}

/** The file in the state directory where `npm start` records where local mode runs. */
export const LOCAL_STATE_FILE = "local.json";

/** The content of local.json: what `npm run token`, tests and tools need to reach local mode. */
export interface LocalState {
  readonly apiUrl: string;
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly table: string;
  readonly region: string;
  /** The checkpoint public key as a JWKS file: what `sealtrail verify --trust` takes. */
  readonly jwksFile: string;
  /** The bucket only the checkpoint signer writes (its state). */
  readonly checkpointStateBucket: string;
}

export interface SignTokenOptions {
  /** Space-delimited scopes, or a list of them; written to the `scope` claim. */
  readonly scope: string | readonly string[];
  /** @default "dev-user" */
  readonly sub?: string;
  /** @default 3600 */
  readonly ttlSeconds?: number;
  /** Further claims; they may override the standard ones (a test can drop `aud` by setting it undefined). */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
  /** Issue time; defaults to now. */
  readonly now?: Date;
}

export interface LocalIssuerKey {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  /** A one-key JWKS of the public key, as served at /.well-known/jwks.json. */
  publicJwks(): JSONWebKeySet;
  /** Signs a payload as it is, with `alg: RS256` and this key's `kid` unless `header` overrides them. */
  signPayload(payload: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
}

export interface LocalIssuer extends LocalIssuerKey {
  /** The `iss` of every token, which the authorizer requires. */
  readonly issuer: string;
  readonly audience: string;
  /** An access token with iat, nbf, exp and a fresh jti. */
  signToken(options: SignTokenOptions): Promise<string>;
}

interface StoredKey {
  readonly privateJwk: JWK;
}

function publicPart(jwk: JWK): JWK {
  const { kty, n, e } = jwk;
  return { kty, n, e };
}

async function keyFromPrivateJwk(privateJwk: JWK): Promise<LocalIssuerKey> {
  const publicJwk = publicPart(privateJwk);
  const kid = await calculateJwkThumbprint(publicJwk, "sha256");
  const privateKey = await importJWK({ ...privateJwk, alg: ISSUER_ALGORITHM }, ISSUER_ALGORITHM);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: ISSUER_ALGORITHM, use: "sig" }] };
  return {
    kid,
    publicJwks: () => structuredClone(jwks),
    signPayload: (payload, header = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: ISSUER_ALGORITHM, kid, typ: "JWT", ...header })
        .sign(privateKey),
  };
}

function readStoredKey(file: string): StoredKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(
      `The local issuer key ${file} is unreadable (${(error as Error).message}). Delete it to make a new one; ` +
        "tokens signed with the old key stop working.",
    );
  }
  const jwk = (parsed as Partial<StoredKey>).privateJwk;
  if (jwk?.kty !== "RSA" || !jwk.d || !jwk.n || !jwk.e) {
    throw new Error(`The local issuer key ${file} is not an RSA private JWK. Delete it to make a new one.`);
  }
  return { privateJwk: jwk };
}

/**
 * Loads the issuer key from `<stateDir>/issuer-key.json`, creating it (mode 0600) on first use.
 * Two processes starting at once agree on one key: the file is created exclusively.
 */
export async function loadOrCreateIssuerKey(stateDir: string = localStateDir()): Promise<LocalIssuerKey> {
  const file = join(stateDir, ISSUER_KEY_FILE);
  try {
    const mode = statSync(file).mode & 0o777;
    // The key only signs local dev tokens, but it is still a private key: keep it owner-only.
    if (mode & 0o077) chmodSync(file, 0o600);
    return keyFromPrivateJwk(readStoredKey(file).privateJwk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }

  const { privateKey } = await generateKeyPair(ISSUER_ALGORITHM, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${JSON.stringify({ privateJwk } satisfies StoredKey, null, 2)}\n`, {
      mode: 0o600,
      flag: "wx",
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return keyFromPrivateJwk(readStoredKey(file).privateJwk);
  }
  return keyFromPrivateJwk(privateJwk);
}

/** Binds a key to an issuer URL and audience. */
export function localIssuer(
  key: LocalIssuerKey,
  options: { readonly issuer: string; readonly audience?: string },
): LocalIssuer {
  const audience = options.audience ?? LOCAL_AUDIENCE;
  return {
    ...key,
    issuer: options.issuer,
    audience,
    signToken({ scope, sub = "dev-user", ttlSeconds = 3600, extraClaims = {}, now = new Date() }) {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
        throw new Error(`ttlSeconds must be a positive whole number of seconds, not ${ttlSeconds}`);
      }
      const iat = Math.floor(now.getTime() / 1000);
      const payload: JWTPayload = {
        iss: options.issuer,
        sub,
        aud: audience,
        scope: typeof scope === "string" ? scope : scope.join(" "),
        iat,
        nbf: iat,
        exp: iat + ttlSeconds,
        jti: randomUUID(),
        ...extraClaims,
      };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      return key.signPayload(payload);
    },
  };
}

/** Loads (or creates) the key in `stateDir` and binds it to `issuer`. */
export async function openLocalIssuer(options: {
  readonly issuer: string;
  readonly audience?: string;
  readonly stateDir?: string;
}): Promise<LocalIssuer> {
  return localIssuer(await loadOrCreateIssuerKey(options.stateDir), options);
}
