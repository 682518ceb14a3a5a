/**
 * Deterministic stand-ins for the client's clock and for sealtrail's ingest endpoint: tests move
 * time by hand and script each answer, so nothing really waits and nothing is left to chance.
 */
import type { Clock } from "../../../client/src/clock";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Lets every promise chain that is ready run to its next wait (real I/O is never involved). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private timers = new Map<number, Timer>();
  private seq = 0;
  constructor(public time = 1_800_000_000_000) {}

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), seq: id, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Pending timers' delays from now, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }
  /** Moves time forward by `ms`, running each timer that falls due, in order, settling between them. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= target)
        .sort(([, a], [, b]) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
      await settle();
    }
    this.time = target;
    await settle();
  }
  /** Advances until `done` settles (at most `limitMs`), timer by timer. */
  async runUntil<T>(done: Promise<T>, limitMs = 600_000): Promise<T> {
    let finished = false;
    const result = done.finally(() => {
      finished = true;
    });
    result.catch(() => {});
    const end = this.time + limitMs;
    await settle();
    while (!finished && this.time < end) {
      const next = this.pending()[0];
      await this.advance(next === undefined ? end - this.time : Math.min(next, end - this.time));
    }
    return result;
  }
}

export interface SeenRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly events: Array<Record<string, unknown>>;
  readonly bytes: number;
}

export type Answer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | "network_error"
  | ((request: SeenRequest) => Answer);

/** A scripted sealtrail: answers in order (then 201 receipts), recording every request. */
export class FakeSealtrail {
  readonly requests: SeenRequest[] = [];
  private readonly script: Answer[];
  constructor(...script: Answer[]) {
    this.script = script;
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const text = String(init?.body ?? "");
    const request: SeenRequest = {
      url: String(input),
      headers,
      events: (JSON.parse(text) as { events: Array<Record<string, unknown>> }).events,
      bytes: Buffer.byteLength(text),
    };
    this.requests.push(request);
    let answer: Answer = this.script.shift() ?? { status: 201 };
    while (typeof answer === "function") answer = answer(request);
    if (answer === "network_error") throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
    const body = answer.status === 201 && answer.body === undefined ? receiptFor(request) : answer.body;
    return new Response(body === undefined ? "" : JSON.stringify(body), {
      status: answer.status,
      headers: { "content-type": "application/json", ...answer.headers },
    });
  };
}

function receiptFor(request: SeenRequest) {
  return {
    ids: request.events.map((_, i) => `01J0000000000000000000000${i % 10}`),
    chain: "00",
    seq: 0,
    link_key: "chains/00/00000000000000000000.json",
    link_hash: "a".repeat(64),
    batch: { key: "events/k", root: "b".repeat(64), count: request.events.length },
    leaf_indexes: request.events.map((_, i) => i),
  };
}

export function event(n: number, extra: Record<string, unknown> = {}) {
  return {
    action: "document.read",
    outcome: "success" as const,
    resource: { type: "doc", id: String(n) },
    ...extra,
  };
}

/** A logger that keeps every line. */
export function captureLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) },
  };
}
