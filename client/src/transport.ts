/**
 * One POST of a batch to sealtrail, and its answer as text. By default over node:http(s) with a
 * keep-alive agent of the client's own: per batch that costs a third of the CPU time of `fetch`, and
 * it is the app's CPU (the benchmark counts it in the access log's overhead). A `fetch` passed to
 * `createAuditClient` is used instead.
 *
 * A failure without an answer rejects with an Error whose `cause.code` is the system's code
 * (`ECONNRESET`, …), as fetch's does; an aborted `signal` rejects as well (the caller checks it).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface PostRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly signal: AbortSignal;
}

export interface PostAnswer {
  readonly status: number;
  readonly text: string;
  /** The `Retry-After` header, or null. */
  readonly retryAfter: string | null;
}

export type Post = (url: string, request: PostRequest) => Promise<PostAnswer>;

/** Posts through a fetch function (the `fetch` option). */
export function fetchPost(doFetch: typeof fetch): Post {
  return async (url, { headers, body, signal }) => {
    const response = await doFetch(url, { method: "POST", headers, body, signal });
    const text = await response.text();
    return { status: response.status, text, retryAfter: response.headers.get("retry-after") };
  };
}

/**
 * Posts over node:http or node:https (from the URL), reusing connections. Idle connections do not keep
 * the process alive (Node unrefs an agent's free sockets).
 */
export function nodePost(url: string, maxSockets: number): Post {
  const secure = new URL(url).protocol === "https:";
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets })
    : new HttpAgent({ keepAlive: true, maxSockets });
  const request = secure ? httpsRequest : httpRequest;
  return (target, { headers, body, signal }) =>
    new Promise<PostAnswer>((resolve, reject) => {
      const failed = (error: Error & { code?: unknown }) =>
        reject(
          new Error(`request failed: ${error.message}`, {
            cause: { code: typeof error.code === "string" ? error.code : undefined },
          }),
        );
      const req = request(
        target,
        {
          method: "POST",
          agent,
          signal,
          headers: { ...headers, "content-length": String(Buffer.byteLength(body, "utf8")) },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", failed);
          res.on("end", () => {
            const retryAfter = res.headers["retry-after"];
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString("utf8"),
              retryAfter: typeof retryAfter === "string" ? retryAfter : null,
            });
          });
          // Cut off before the whole answer arrived (the connection closed, or the signal aborted).
          res.on("close", () => {
            if (!res.complete)
              failed(Object.assign(new Error("the answer was cut off"), { code: "ECONNRESET" }));
          });
        },
      );
      req.on("error", failed);
      req.end(body, "utf8");
    });
}
