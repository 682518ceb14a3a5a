import { describe, expect, it } from "vitest";
import { decideOnStoredClaim, type StoredClaim } from "../../lambda/ingest/idempotency-claim";

const NOW = 1_000_000;
const pending = (owner: string, claimUntil = NOW + 30_000): StoredClaim => ({
  state: "pending",
  owner,
  bodyHash: "h",
  claimUntil,
});

describe("decideOnStoredClaim", () => {
  it("takes an absent or expired claim", () => {
    expect(decideOnStoredClaim(undefined, "h", "me", NOW)).toBe("take");
    expect(decideOnStoredClaim(pending("other", NOW - 1), "h", "me", NOW)).toBe("take");
  });

  it("recognises its own live claim (a lost response the SDK resent) as claimed", () => {
    expect(decideOnStoredClaim(pending("me"), "h", "me", NOW)).toEqual({ kind: "claimed", owner: "me" });
  });

  it("reports another request's live claim as in progress, another body as a conflict", () => {
    expect(decideOnStoredClaim(pending("other"), "h", "me", NOW)).toEqual({ kind: "in_progress" });
    expect(decideOnStoredClaim(pending("other"), "different", "me", NOW)).toEqual({ kind: "conflict" });
  });

  it("returns the first receipt of a completed key", () => {
    const done: StoredClaim = { ...pending("other"), state: "done", receipt: '{"seq":4}' };
    expect(decideOnStoredClaim(done, "h", "me", NOW)).toEqual({
      kind: "completed",
      bodyHash: "h",
      receipt: { seq: 4 },
    });
  });
});
