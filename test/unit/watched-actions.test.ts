import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OUTCOMES } from "../../lambda/core/schema";
import {
  countWatchedActions,
  DEFAULT_WATCHED_ACTIONS,
  DEFAULT_WATCHED_PATTERNS,
  MAX_WATCHED_ACTIONS,
  patternMatches,
  patternProblem,
  watchedActionProblems,
  watchedPatterns,
} from "../../lambda/core/watched-actions";
import { configFromEnv, ENV } from "../../lambda/runtime/config";

describe("watched-action patterns", () => {
  it.each([
    { pattern: "user.login", action: "user.login", matches: true },
    { pattern: "user.login", action: "user.login.mfa", matches: false },
    { pattern: "user.login", action: "user.logi", matches: false },
    { pattern: "user.login", action: "User.login", matches: false },
    { pattern: "permission.*", action: "permission.grant", matches: true },
    { pattern: "permission.*", action: "permission.grant.bulk", matches: true },
    { pattern: "permission.*", action: "permission.", matches: false },
    { pattern: "permission.*", action: "permission", matches: false },
    { pattern: "permission.*", action: "permissions.grant", matches: false },
    { pattern: "role.*", action: "user.role.assign", matches: false },
    { pattern: "a:b/c.*", action: "a:b/c.d", matches: true },
  ])("$pattern matches $action: $matches", ({ pattern, action, matches }) => {
    expect(patternProblem(pattern)).toBeUndefined();
    expect(patternMatches(pattern, action)).toBe(matches);
  });

  it.each([
    "",
    "*",
    ".*",
    "user*",
    "*.login",
    "user.*.login",
    "user login",
    "-user",
    "role.**",
    "x".repeat(129),
  ])("refuses %j, saying what a pattern is", (pattern) => {
    expect(patternProblem(pattern)).toMatch(/action name .*prefix ending in "\.\*"/);
  });

  it("a prefix pattern matches exactly the longer actions that start with its prefix", () => {
    const action = fc.stringMatching(/^[a-z][a-z.]{0,12}$/);
    fc.assert(
      fc.property(action, action, (prefix, candidate) => {
        const pattern = `${prefix}.*`;
        expect(patternMatches(pattern, candidate)).toBe(
          candidate.startsWith(`${prefix}.`) && candidate.length > prefix.length + 1,
        );
      }),
    );
  });
});

describe("counting watched actions", () => {
  const patterns = ["user.login", "role.*", "role.assign"];

  it("counts per pattern and outcome; an event matching two patterns counts once for each", () => {
    const counts = countWatchedActions(patterns, [
      { action: "user.login", outcome: "failure" },
      { action: "user.login", outcome: "failure" },
      { action: "user.login", outcome: "success" },
      { action: "role.assign", outcome: "success" },
      { action: "role.revoke", outcome: "denied" },
      { action: "document.read", outcome: "success" },
    ]);
    expect(counts).toEqual([
      { pattern: "user.login", outcome: "failure", count: 2 },
      { pattern: "user.login", outcome: "success", count: 1 },
      { pattern: "role.*", outcome: "success", count: 1 },
      { pattern: "role.assign", outcome: "success", count: 1 },
      { pattern: "role.*", outcome: "denied", count: 1 },
    ]);
  });

  it("counts nothing for events no pattern matches, or without patterns", () => {
    expect(countWatchedActions(patterns, [{ action: "document.read", outcome: "success" }])).toEqual([]);
    expect(countWatchedActions([], [{ action: "user.login", outcome: "failure" }])).toEqual([]);
  });

  it("the dimension is the pattern, never the action", () => {
    const actions = ["role.assign", "role.revoke", "role.create", "role.delete"];
    const counts = countWatchedActions(
      ["role.*"],
      actions.map((action) => ({ action, outcome: "success" as const })),
    );
    expect(counts).toEqual([{ pattern: "role.*", outcome: "success", count: 4 }]);
  });

  it("each pattern is counted once however many entries watch it", () => {
    expect(
      watchedPatterns([
        { pattern: "user.login", outcome: "failure", threshold: 20 },
        { pattern: "user.login", outcome: "success", threshold: 1000 },
        { pattern: "role.*", threshold: 1 },
      ]),
    ).toEqual(["user.login", "role.*"]);
  });
});

describe("watched-action lists", () => {
  it("the defaults are failed logins, permission and role changes, and valid", () => {
    expect(DEFAULT_WATCHED_ACTIONS.map(({ pattern, outcome }) => [pattern, outcome])).toEqual([
      ["user.login", "failure"],
      ["permission.*", undefined],
      ["role.*", undefined],
    ]);
    expect(watchedActionProblems("watchedActions", DEFAULT_WATCHED_ACTIONS)).toEqual([]);
    expect(watchedActionProblems("watchedActions", [])).toEqual([]);
  });

  it("names every bad entry and field, what is wrong and the fix, all at once", () => {
    const problems = watchedActionProblems("watchedActions", [
      { pattern: "user.*.login", threshold: 5 },
      { pattern: "role.*", outcome: "failed", threshold: 0 },
      { pattern: "user.login", threshold: 2.5 },
      { outcome: "failure", threshold: 1 },
      { pattern: "x.y", threshold: 1, extra: true },
      "role.*",
    ]);
    expect(problems).toEqual([
      expect.stringMatching(/^watchedActions\[0\]\.pattern "user\.\*\.login" is not an action name/),
      expect.stringMatching(/^watchedActions\[1\]\.outcome must be one of success, failure, denied/),
      "watchedActions[1].threshold must be at least 1",
      "watchedActions[2].threshold must be a whole number",
      expect.stringMatching(/^watchedActions\[3\]\.pattern is missing/),
      "watchedActions[4] has unknown field(s) extra: an entry has pattern, outcome (optional) and threshold",
      'watchedActions[5] must be an object {pattern, outcome?, threshold}, got "role.*"',
    ]);
  });

  it("refuses the same pattern and outcome twice, and more entries than the bound", () => {
    expect(
      watchedActionProblems("watchedActions", [
        { pattern: "role.*", threshold: 1 },
        { pattern: "role.*", outcome: "failure", threshold: 1 },
        { pattern: "role.*", threshold: 5 },
      ]),
    ).toEqual([
      "watchedActions[2] watches role.* (every outcome) a second time: remove one of the two entries",
    ]);
    const many = Array.from({ length: MAX_WATCHED_ACTIONS + 1 }, (_, i) => ({
      pattern: `action${i}`,
      threshold: 1,
    }));
    expect(watchedActionProblems("watchedActions", many)).toEqual([
      expect.stringMatching(/has 21 entries, at most 20/),
    ]);
  });

  it("refuses what is not a list", () => {
    expect(watchedActionProblems("-c watchedActions", { pattern: "role.*" })).toEqual([
      expect.stringMatching(/^-c watchedActions must be a list of \{pattern, outcome\?, threshold\}/),
    ]);
  });

  it("every outcome is a valid filter", () => {
    for (const outcome of OUTCOMES) {
      expect(watchedActionProblems("w", [{ pattern: "user.login", outcome, threshold: 1 }])).toEqual([]);
    }
  });
});

describe("the patterns in the function's environment", () => {
  const base = { SEALTRAIL_BUCKET: "b", SEALTRAIL_TABLE: "t" };

  it("are read as a JSON array of patterns; without the variable, the defaults are counted", () => {
    expect(
      configFromEnv({ ...base, [ENV.watchedActions]: '["user.login","role.*"]' }).watchedActionPatterns,
    ).toEqual(["user.login", "role.*"]);
    expect(configFromEnv(base).watchedActionPatterns).toBeUndefined();
    expect(DEFAULT_WATCHED_PATTERNS).toEqual(["user.login", "permission.*", "role.*"]);
  });

  it.each([
    { value: "role.*", problem: /SEALTRAIL_WATCHED_ACTIONS must be a JSON array of watched-action patterns/ },
    { value: '[{"pattern":"role.*"}]', problem: /must be a JSON array of watched-action patterns/ },
    { value: '["role*"]', problem: /SEALTRAIL_WATCHED_ACTIONS: the pattern "role\*" is not an action name/ },
  ])("refuses $value, naming the variable", ({ value, problem }) => {
    expect(() => configFromEnv({ ...base, [ENV.watchedActions]: value })).toThrow(problem);
  });
});
