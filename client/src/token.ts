/**
 * Where the client's bearer token comes from: a fixed string, an async function, or the OAuth 2.0
 * client-credentials grant (RFC 6749 §4.4), cached until shortly before it expires.
 */
import { type Clock, systemClock } from "./clock.js";
import { redact } from "./errors.js";

/** `refresh` is true after the server answered 401 to the last token: return a new one if you can. */
export type TokenFunction = (context: { readonly refresh: boolean }) => string | Promise<string>;
export type TokenSource = string | TokenFunction;

export interface ClientCredentialsOptions {
  /** The issuer's token endpoint, e.g. https://idp.example.com/oauth2/token. */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated scopes to ask for, e.g. "sealtrail/write". */
  readonly scope?: string;
  /** The API the token is for (Auth0 and others need it to issue a JWT for sealtrail). */
  readonly audience?: string;
  /**
   * How the client authenticates to the token endpoint.
   * @default "client_secret_basic"
   */
  readonly authMethod?: "client_secret_basic" | "client_secret_post";
  /**
   * A token is replaced this long before it expires (at most half its lifetime), ms.
   * @default 60_000
   */
  readonly refreshBeforeExpiryMs?: number;
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
}

/** Lifetime assumed for a token whose response says nothing about expiry. */
const UNKNOWN_LIFETIME_MS = 60_000;

/** A token function for the client-credentials grant: one request per token lifetime, shared by concurrent callers. */
export function clientCredentials(options: ClientCredentialsOptions): TokenFunction {
  for (const name of ["tokenUrl", "clientId", "clientSecret"] as const) {
    if (typeof options[name] !== "string" || options[name] === "") {
      throw new TypeError(`clientCredentials: ${name} is required (a non-empty string)`);
    }
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock;
  const refreshBefore = options.refreshBeforeExpiryMs ?? 60_000;
  let cached: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const request = async (): Promise<string> => {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (options.scope) form.set("scope", options.scope);
    if (options.audience) form.set("audience", options.audience);
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (options.authMethod === "client_secret_post") {
      form.set("client_id", options.clientId);
      form.set("client_secret", options.clientSecret);
    } else {
      // RFC 6749 §2.3.1: each part form-encoded before base64.
      const user = encodeURIComponent(options.clientId);
      const pass = encodeURIComponent(options.clientSecret);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    }
    const secrets = [options.clientSecret];
    const startedAt = clock.now();
    let response: Response;
    try {
      response = await doFetch(options.tokenUrl, { method: "POST", headers, body: form });
    } catch (error) {
      throw new Error(
        redact(
          `the token endpoint ${options.tokenUrl} could not be reached (${(error as Error).message}); check tokenUrl and the network`,
          secrets,
        ),
      );
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) {
      const oauthError = typeof body?.error === "string" ? ` (${body.error})` : "";
      throw new Error(
        redact(
          `the token endpoint ${options.tokenUrl} refused the client-credentials request with ${response.status}${oauthError}; check clientId, clientSecret, scope and audience`,
          secrets,
        ),
      );
    }
    const token = body?.access_token;
    if (typeof token !== "string" || token === "") {
      throw new Error(`the token endpoint ${options.tokenUrl} answered without an access_token`);
    }
    const lifetime = lifetimeMs(body?.expires_in, token, startedAt);
    cached = { token, refreshAt: startedAt + lifetime - Math.min(refreshBefore, lifetime / 2) };
    return token;
  };

  return ({ refresh }) => {
    if (!refresh && cached && clock.now() < cached.refreshAt) return cached.token;
    if (refresh) cached = undefined;
    pending ??= request().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

/** From `expires_in` (seconds), else the JWT's own `exp`, else a short default. */
function lifetimeMs(expiresIn: unknown, token: string, now: number): number {
  const seconds = typeof expiresIn === "string" ? Number(expiresIn) : expiresIn;
  if (typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    if (typeof payload.exp === "number" && payload.exp * 1000 > now) return payload.exp * 1000 - now;
  } catch {
    // Not a JWT: an opaque token.
  }
  return UNKNOWN_LIFETIME_MS;
}

/** The client's view of its token source: the current token, and a fresh one after a 401. */
export class TokenProvider {
  private readonly seen = new Set<string>();

  constructor(private readonly source: TokenSource) {
    if (typeof source !== "function" && (typeof source !== "string" || source === "")) {
      throw new TypeError("createAuditClient: token must be a non-empty string or a function returning one");
    }
  }

  async get(refresh: boolean): Promise<string> {
    const token = typeof this.source === "string" ? this.source : await this.source({ refresh });
    if (typeof token !== "string" || token === "") {
      throw new TypeError("the token function returned no token (a non-empty string is needed)");
    }
    // Remembered (bounded) so that no text the client emits can contain it.
    if (this.seen.size > 16) this.seen.clear();
    this.seen.add(token);
    return token;
  }

  /** Tokens handed out so far: what `redact` scrubs from every message. */
  secrets(): Iterable<string> {
    return this.seen;
  }

  /** Whether asking again after a 401 can help. */
  get canRefresh(): boolean {
    return typeof this.source === "function";
  }
}
