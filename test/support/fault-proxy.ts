/**
 * An HTTP proxy on 127.0.0.1 that puts a fault schedule between a client and a server: each request
 * takes the next fault of the schedule and is forwarded, delayed, held until its client has given up
 * and then forwarded all the same, answered 503 or 429 in the server's place, or has its connection
 * destroyed before forwarding or after (the server acted, its answer is lost). Every request and what
 * came of it is logged, so a test can say which faults it went through.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export const PROXY_FAULTS = [
  /** Passed on unchanged. */
  "forward",
  /** Passed on after `delayMs`. */
  "delay",
  /** Held for `stallMs` (past the client's request timeout), then passed on: a late duplicate. */
  "stall",
  /** The connection is destroyed before the request reaches the server. */
  "drop_before",
  /** The server answers, then the connection is destroyed: the answer is lost, the server's work is done. */
  "drop_after",
  /** 503 in the server's place, as an overloaded gateway answers. */
  "unavailable",
  /** 429 with `Retry-After: 0`. */
  "throttle_0",
  /** 429 with `Retry-After: 1`. */
  "throttle_1",
] as const;
export type ProxyFault = (typeof PROXY_FAULTS)[number];

/** Faults after which the client has no answer from the server and must retry. */
export const FAILING_FAULTS: ReadonlySet<ProxyFault> = new Set(
  PROXY_FAULTS.filter((fault) => fault !== "forward" && fault !== "delay"),
);

/** One request through the proxy. */
export interface ProxiedRequest {
  /** The request's place in arrival order, from 0. */
  readonly index: number;
  /** The value of `keyHeader`, when the request had one. */
  readonly key?: string;
  readonly fault: ProxyFault;
  /** What the server answered, for a request that reached it (also when the answer was then lost). */
  upstream?: UpstreamAnswer;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The answer's place in the order the server's answers came in, from 0. */
  readonly order: number;
}

export interface FaultProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:1234 */
  readonly target: string;
  /** The faults in the order requests take them; once it is used up, requests are forwarded. */
  readonly schedule: readonly ProxyFault[];
  /**
   * A request header that names what a request is about (e.g. `idempotency-key`): a request whose key
   * already met `maxFaultsPerKey` failing faults is forwarded without taking from the schedule, so a
   * client that retries always gets through however the schedule falls.
   */
  readonly keyHeader?: string;
  /** @default 3 */
  readonly maxFaultsPerKey?: number;
  /** @default 100 */
  readonly delayMs?: number;
  /** @default 1000 */
  readonly stallMs?: number;
}

export interface FaultProxy {
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly log: readonly ProxiedRequest[];
  /** Resolves once no request is in the proxy (a stalled one outlives its client's wait). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Hop-by-hop headers, which a proxy does not pass on. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const maxFaultsPerKey = options.maxFaultsPerKey ?? 3;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const log: ProxiedRequest[] = [];
  const faultsByKey = new Map<string, number>();
  const inProxy = new Set<Promise<void>>();
  let scheduled = 0;
  let answers = 0;

  function faultFor(key: string | undefined): ProxyFault {
    if (key !== undefined && (faultsByKey.get(key) ?? 0) >= maxFaultsPerKey) return "forward";
    const fault = options.schedule[scheduled++] ?? "forward";
    if (key !== undefined && FAILING_FAULTS.has(fault)) faultsByKey.set(key, (faultsByKey.get(key) ?? 0) + 1);
    return fault;
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host, "content-length": String(body.length) },
          agent: false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(chunks).toString("utf8"),
              order: answers++,
            }),
          );
          response.on("error", reject);
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = (status: number, headers: Record<string, string>, message: string) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify({ message }));
    };
    switch (entry.fault) {
      case "unavailable":
        return answer(503, {}, "Service Unavailable");
      case "throttle_0":
      case "throttle_1":
        return answer(429, { "retry-after": entry.fault === "throttle_0" ? "0" : "1" }, "Too Many Requests");
      case "delay":
        await wait(options.delayMs ?? 100);
        break;
      case "stall":
        await wait(options.stallMs ?? 1000);
        break;
    }
    try {
      entry.upstream = await forward(req, Buffer.concat(chunks));
    } catch (error) {
      return answer(502, {}, `fault proxy: ${(error as Error).message}`);
    }
    if (entry.fault === "drop_after") {
      req.socket.destroy();
      return;
    }
    const headers = Object.entries(entry.upstream.headers).filter(
      (pair): pair is [string, string] => typeof pair[1] === "string" && !HOP_BY_HOP.has(pair[0]),
    );
    res.writeHead(entry.upstream.status, Object.fromEntries(headers));
    res.end(entry.upstream.body);
  }

  const server = createServer((req, res) => {
    const header = options.keyHeader ? req.headers[options.keyHeader.toLowerCase()] : undefined;
    const key = typeof header === "string" ? header : undefined;
    const entry: ProxiedRequest = { index: log.length, fault: faultFor(key), ...(key ? { key } : {}) };
    log.push(entry);
    if (entry.fault === "drop_before") {
      req.socket.destroy();
      return;
    }
    // A client that went away mid-request leaves nothing to answer.
    const handled: Promise<void> = handle(req, res, entry)
      .catch(() => {
        req.socket.destroy();
      })
      .finally(() => inProxy.delete(handled));
    inProxy.add(handled);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async idle() {
      while (inProxy.size > 0) await Promise.all([...inProxy]);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
