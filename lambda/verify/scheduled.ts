/**
 * The scheduled verifier (DESIGN.md "Resilience and alerts"): `sealtrail verify --state --max-age` run
 * by the stack itself, with its state in a store only it writes, a JSON report of every step kept
 * there for auditors, metrics for the alarms, and a message with the first findings.
 *
 * It is the one verifier (verifier.ts), never a second one. An archive too large for one invocation is
 * verified in steps: each step runs the verifier over a view of the archive bounded at a checkpoint c
 * and, per chain, at a link n (archive-view.ts), sized from the links per second the last steps
 * achieved and the time left; a step that verifies saves the verifier's own state, "chain verified up
 * to link n at checkpoint c", and the next step (in this invocation or the next scheduled one) goes on
 * from exactly there. The last step is the verifier over the whole listing, `--max-age` included: what
 * `verify --state` does. A step that runs past the deadline concludes nothing and keeps nothing.
 *
 * Steps in a bounded view differ from a whole run in two warnings only, both about what the bound
 * hides: `unsigned_links` for links beyond the bound is kept (it says where the step stopped), and
 * `unlinked_object` (objects that only hidden links name) is dropped. The index is compared for the
 * events the step read.
 */

import type { ArchiveEntry, ArchiveSource } from "../archive/source";
import type { TrustedKey } from "../core/checkpoint";
import { parseCheckpointPayload, payloadBytesOf } from "../core/checkpoint";
import { checkpointKey } from "../core/paths";
import {
  type ListingSummary,
  readListing,
  StepDeadlineError,
  summarizeListing,
  type ViewBounds,
  viewOf,
} from "./archive-view";
import { describeFinding, reportJson } from "./report";
import {
  type Finding,
  type IndexEntry,
  type VerifierState,
  type VerifyReport,
  verifyArchive,
} from "./verifier";

/** What the scheduled verifier keeps between runs. */
export interface ScheduledVerifierState {
  readonly v: 1;
  /** The verifier's own state (`--state`) after the last step that verified; absent before the first. */
  readonly verified?: VerifierState;
  /** Links per second the last measured step read: sizes the next steps. */
  readonly links_per_second?: number;
  /**
   * Saved before each step and cleared after it: found by the next run, it says a run died inside a
   * step (out of memory, or killed at its timeout), and the next steps are planned at half the rate.
   */
  readonly pending_step?: { readonly link_budget: number; readonly started: string };
  readonly saved: string;
}

/** The verifier's own store (lambda/aws/verifier-state-store.ts): only its role may write there. */
export interface VerifierStore {
  /** The state and the version to save against; undefined before the first save. */
  load(): Promise<{ state: ScheduledVerifierState; version: string } | undefined>;
  /** Replaces the state if it is still `expected` (undefined: if there is none); returns the new version. */
  save(state: ScheduledVerifierState, expected: string | undefined): Promise<string>;
  /** Creates a report object (never replaces one); returns where it is, e.g. s3://bucket/key. */
  putReport(key: string, report: object): Promise<string>;
}

/** Where the message with the first findings goes (the alarm topic). */
export interface AlertPublisher {
  publish(subject: string, message: string): Promise<void>;
}

/** Links per second assumed before any step was measured: slow, so a first step stays small. */
export const DEFAULT_LINKS_PER_SECOND = 50;
/** A step is planned to take at most this share of the time left, so that it ends well before it. */
const STEP_SHARE = 0.5;
/** A step that read fewer links measures mostly its fixed costs, not a rate. */
const MIN_LINKS_TO_MEASURE = 100;
/** Findings a message quotes; the step's report in the store has all of them. */
export const FINDINGS_IN_MESSAGE = 10;
/** Where the reports go in the store. */
export const REPORTS_PREFIX = "reports/";

export interface ScheduledVerifierOptions {
  readonly source: ArchiveSource;
  readonly trusted: readonly TrustedKey[];
  readonly store: VerifierStore;
  /** Every pointer item of the index; omitted: the index is not compared. */
  readonly index?: () => AsyncIterable<IndexEntry>;
  readonly maxAgeMs?: number;
  /** Time left for verifying in this invocation: a step still running when it reaches 0 is stopped. */
  readonly timeLeftMs: () => number;
  /** No further step starts once this much time has been used (at least one step always runs). */
  readonly budgetMs: number;
  readonly concurrency?: number;
  readonly now?: () => number;
}

/** What one step was: its bounds, how far it got, and the report key in the store. */
export interface StepRecord {
  /** `whole`: the verifier over the whole listing, as `verify --state`; `bounded`: a view (archive-view.ts). */
  readonly kind: "whole" | "bounded";
  readonly bounds?: ViewBounds;
  readonly linkBudget: number;
  /** The report's outcome, or `deadline` for a step stopped at the deadline. */
  readonly outcome: VerifyReport["outcome"] | "deadline";
  readonly durationMs: number;
  /** After a step that verified: the checkpoint and, per chain, the links verified so far. */
  readonly verifiedTo?: { readonly checkpoint: number; readonly links: Readonly<Record<string, number>> };
  readonly report: string;
}

/**
 * `verified`: caught up, the whole archive verifies. `progressed`: every step verified, but the time
 * ran out before the whole archive was read; the next run goes on. `failed`: an error finding.
 * `incomplete`: the first step ran past the deadline, so nothing was concluded (the next run plans
 * smaller steps). `unsigned` and `empty`: as the verifier says (nothing signed yet).
 */
export type ScheduledOutcome = "verified" | "progressed" | "failed" | "incomplete" | "unsigned" | "empty";

export interface ScheduledRun {
  readonly outcome: ScheduledOutcome;
  readonly steps: readonly StepRecord[];
  /** Error findings of the failing step. */
  readonly findings: readonly Finding[];
  /** The newest checkpoint verified so far (this run or before), if any. */
  readonly verifiedCheckpoint?: number;
  /** True when a step of this run verified something (the silence alarm's signal). */
  readonly verifiedThisRun: boolean;
  readonly source: string;
}

/**
 * One scheduled run: steps planned to the time left, each verified (verifyStep) and its progress saved,
 * until caught up, failed or out of time. About 90 lines: the loop's stop conditions and what each
 * saves read best in one place, since their order is what makes a run resumable.
 */
export async function runScheduledVerification(options: ScheduledVerifierOptions): Promise<ScheduledRun> {
  const now = options.now ?? Date.now;
  const started = now();
  const runId = new Date(started).toISOString();
  const loaded = await options.store.load();
  let state = loaded?.state;
  let version = loaded?.version;
  let rate = state?.links_per_second ?? DEFAULT_LINKS_PER_SECOND;
  if (state?.pending_step) rate = Math.max(1, Math.floor(rate / 2));
  const listing = await readListing(options.source);
  const summary = summarizeListing(listing);
  // Only the whole listing's newest checkpoint says how old the archive is, and an archive that was
  // never signed (a new stack before the signer's first run) is not stale but unsigned: the silence
  // alarm watches for a signer that never signs. Once verified, a vanished checkpoint is a rollback.
  const signedYet = state?.verified !== undefined || summary.checkpoints.length > 0;
  const steps: StepRecord[] = [];
  let outcome: ScheduledOutcome = "progressed";
  let findings: Finding[] = [];
  let verifiedThisRun = false;

  /** Saves the rate (and a pending step, or a newer verified state); the verified state is kept otherwise. */
  const save = async (next: Omit<ScheduledVerifierState, "v" | "saved">) => {
    const verified = next.verified ?? state?.verified;
    state = { v: 1, ...next, ...(verified ? { verified } : {}), saved: new Date(now()).toISOString() };
    version = await options.store.save(state, version);
  };

  for (;;) {
    const timeLeft = Math.min(options.timeLeftMs(), options.budgetMs - (now() - started));
    if (steps.length > 0 && timeLeft <= 0) break;
    const linkBudget = Math.max(1, Math.floor((rate * Math.max(0, timeLeft) * STEP_SHARE) / 1000));
    const bounds = await planStep(summary, state?.verified, linkBudget, (seq) =>
      checkpointSizes(options.source, seq),
    );
    await save({
      links_per_second: rate,
      pending_step: { link_budget: linkBudget, started: new Date(now()).toISOString() },
    });
    const step = await verifyStep(
      options,
      { runId, listing, signedYet, now },
      {
        index: steps.length,
        bounds,
        linkBudget,
        verified: state?.verified,
      },
    );
    steps.push(step.record);
    const report = step.report;
    if (!report) {
      // The step ran past the deadline: halve the rate the plan assumed, so that the next steps fit.
      rate = Math.max(1, Math.floor(rate / 2));
      await save({ links_per_second: rate });
      outcome = verifiedThisRun ? "progressed" : "incomplete";
      break;
    }

    if (!report.state) await save({ links_per_second: rate });
    if (report.outcome === "failed") {
      outcome = "failed";
      findings = report.findings.filter((finding) => finding.severity === "error");
      break;
    }
    if (!report.state) {
      // Nothing signed yet (or, in a view, a checkpoint that did not verify): nothing to continue from.
      outcome = report.outcome === "verified" ? "incomplete" : report.outcome;
      break;
    }
    const before = state?.verified;
    verifiedThisRun = true;
    rate = measuredRate(rate, report, step.record.durationMs);
    await save({ verified: report.state, links_per_second: rate });
    if (!bounds) {
      outcome = "verified";
      break;
    }
    // A planned step always gets further; this guards the loop should it ever not.
    if (before && sameProgress(before, report.state)) break;
  }

  return {
    outcome,
    steps,
    findings,
    ...(state?.verified ? { verifiedCheckpoint: state.verified.checkpoint.seq } : {}),
    verifiedThisRun,
    source: options.source.description,
  };
}

/**
 * One step: the verifier over the step's view of the archive, and its report stored. Without a
 * report when the step ran past the invocation's deadline (it concluded nothing).
 */
async function verifyStep(
  options: ScheduledVerifierOptions,
  run: {
    readonly runId: string;
    readonly listing: readonly ArchiveEntry[];
    readonly signedYet: boolean;
    readonly now: () => number;
  },
  step: {
    readonly index: number;
    readonly bounds: ViewBounds | undefined;
    readonly linkBudget: number;
    readonly verified: VerifierState | undefined;
  },
): Promise<{ readonly record: StepRecord; readonly report?: VerifyReport }> {
  const { bounds, linkBudget, verified } = step;
  const started = run.now();
  const reportKey = `${REPORTS_PREFIX}${run.runId}-${String(step.index).padStart(3, "0")}.json`;
  const common = { kind: bounds ? "bounded" : "whole", ...(bounds ? { bounds } : {}), linkBudget } as const;
  let report: VerifyReport;
  try {
    report = await verifyArchive({
      source: viewOf(options.source, run.listing, bounds, () => options.timeLeftMs() <= 0),
      trusted: options.trusted,
      state: verified,
      maxAgeMs: bounds || !run.signedYet ? undefined : options.maxAgeMs,
      index: options.index && boundedIndex(options.index, bounds, verified),
      concurrency: options.concurrency,
      now: run.now,
    });
  } catch (error) {
    if (!(error instanceof StepDeadlineError)) throw error;
    const durationMs = run.now() - started;
    const where = await options.store.putReport(reportKey, {
      v: 1,
      run: run.runId,
      step: { ...common, outcome: "deadline", duration_ms: durationMs },
      note: "the step ran past the invocation's deadline and concluded nothing; the next run plans smaller steps",
    });
    return { record: { ...common, outcome: "deadline", durationMs, report: where } };
  }
  const durationMs = run.now() - started;
  if (bounds) report = { ...report, findings: report.findings.filter((f) => f.code !== "unlinked_object") };
  const verifiedTo = report.state ? progressOf(report.state) : undefined;
  const where = await options.store.putReport(reportKey, {
    v: 1,
    run: run.runId,
    step: {
      ...common,
      outcome: report.outcome,
      duration_ms: durationMs,
      continued_from: verified ? progressOf(verified) : null,
      verified_to: verifiedTo ?? null,
    },
    report: reportJson(report),
  });
  return {
    record: {
      ...common,
      outcome: report.outcome,
      durationMs,
      ...(verifiedTo ? { verifiedTo } : {}),
      report: where,
    },
    report,
  };
}

function progressOf(state: VerifierState): { checkpoint: number; links: Record<string, number> } {
  return {
    checkpoint: state.checkpoint.seq,
    links: Object.fromEntries(Object.entries(state.chains).map(([id, chain]) => [id, chain.size])),
  };
}

function sameProgress(a: VerifierState, b: VerifierState): boolean {
  return JSON.stringify(progressOf(a)) === JSON.stringify(progressOf(b));
}

/**
 * The rate a step achieved. A small step measures mostly its fixed costs (the checkpoints, the index),
 * so it may only raise the rate: after a deadline or a crash halved it, small steps win it back.
 */
function measuredRate(previous: number, report: VerifyReport, durationMs: number): number {
  if (report.stats.links === 0 || durationMs <= 0) return previous;
  const measured = Math.max(1, Math.round((report.stats.links * 1000) / durationMs));
  return report.stats.links < MIN_LINKS_TO_MEASURE ? Math.max(previous, measured) : measured;
}

/**
 * The chain sizes a checkpoint signs, read without verifying it: they only bound a view, and the step
 * verifies the checkpoint itself. Undefined when it cannot be read as a checkpoint (the step reports it).
 */
async function checkpointSizes(
  source: ArchiveSource,
  seq: number,
): Promise<Record<string, number> | undefined> {
  const bytes = await source.get(checkpointKey(seq));
  if (!bytes) return undefined;
  try {
    const payload = parseCheckpointPayload(payloadBytesOf(bytes.toString("ascii")));
    return Object.fromEntries(Object.entries(payload.chains).map(([id, head]) => [id, head.size]));
  } catch {
    return undefined;
  }
}

/**
 * The next step's bounds, or undefined for the whole listing. The whole listing when the links not yet
 * verified fit `linkBudget`; else the newest checkpoint whose new links fit; else, with a state to go
 * on from, the links of the next checkpoint that fit, chain by chain, at the checkpoint already
 * verified. Before any state, the first checkpoint is one step however large (nothing verified can be
 * kept before a checkpoint verifies).
 */
export async function planStep(
  summary: ListingSummary,
  state: VerifierState | undefined,
  linkBudget: number,
  sizesOf: (seq: number) => Promise<Record<string, number> | undefined>,
): Promise<ViewBounds | undefined> {
  const from = (id: string) => state?.chains[id]?.size ?? 0;
  const newLinks = (sizes: Readonly<Record<string, number>>) =>
    Object.entries(sizes).reduce((sum, [id, size]) => sum + Math.max(0, size - from(id)), 0);
  if (newLinks(summary.linkCounts) <= linkBudget) return undefined;

  const after = state?.checkpoint.seq ?? -1;
  const candidates = summary.checkpoints.filter((seq) => seq > after);
  if (candidates.length === 0 && !state) return undefined;
  const cache = new Map<number, Record<string, number> | undefined>();
  const sizes = async (seq: number) => {
    if (!cache.has(seq)) cache.set(seq, await sizesOf(seq));
    return cache.get(seq);
  };
  // Unreadable: no new links of its own, so the step reaches it and the verifier reports it.
  const work = async (seq: number) => {
    const signed = await sizes(seq);
    return signed ? newLinks(signed) : 0;
  };
  // Chains only grow, so the new links are ascending in the checkpoint: the last that fits.
  let low = 0;
  let high = candidates.length - 1;
  let fits = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if ((await work(candidates[middle] as number)) <= linkBudget) {
      fits = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  const atCheckpoint = async (seq: number): Promise<ViewBounds> => {
    const signed = (await sizes(seq)) ?? {};
    const links: Record<string, number> = {};
    for (const id of new Set([...Object.keys(state?.chains ?? {}), ...Object.keys(signed)])) {
      links[id] = Math.max(from(id), signed[id] ?? 0);
    }
    return { checkpoint: seq, links };
  };
  if (fits >= 0) return atCheckpoint(candidates[fits] as number);
  if (!state) return atCheckpoint(candidates[0] as number);

  // Not even the next checkpoint fits: its links (or, past the newest, the listed ones) a budget's worth.
  const next = candidates[0];
  const targets = (next !== undefined ? await sizes(next) : undefined) ?? summary.linkCounts;
  const links: Record<string, number> = {};
  for (const id of Object.keys(state.chains)) links[id] = from(id);
  let left = linkBudget;
  for (const id of Object.keys(targets).sort((a, b) => Number(a) - Number(b))) {
    const take = Math.min(left, Math.max(0, (targets[id] ?? 0) - from(id)));
    links[id] = from(id) + take;
    left -= take;
  }
  return { checkpoint: state.checkpoint.seq, links };
}

/**
 * The index as a step compares it. A step without a state reports index items that name no event it
 * read (`index_orphan`), so in a bounded view it is shown only the items that claim a link the view
 * shows; a step with a state compares only the events it read anyway.
 */
function boundedIndex(
  index: () => AsyncIterable<IndexEntry>,
  bounds: ViewBounds | undefined,
  state: VerifierState | undefined,
): () => AsyncIterable<IndexEntry> {
  if (!bounds || state) return index;
  return async function* () {
    for await (const entry of index()) {
      const { chain, seq } = entry.attributes;
      if (typeof chain === "string" && typeof seq === "number" && seq < (bounds.links[chain] ?? 0))
        yield entry;
    }
  };
}

/** The message the verifier publishes to the alarm topic when a run fails, with the first findings. */
export function failureMessage(run: ScheduledRun): { subject: string; message: string } {
  const count = run.findings.length;
  const report = run.steps[run.steps.length - 1]?.report;
  const shown = run.findings.slice(0, FINDINGS_IN_MESSAGE).map((finding) => `- ${describeFinding(finding)}`);
  return {
    subject: `sealtrail verification FAILED: ${count} finding(s)`,
    message: [
      `The scheduled verifier found ${count} integrity finding(s) in ${run.source}: the archive is not what was signed.`,
      run.verifiedCheckpoint !== undefined
        ? `Verified before: up to checkpoint ${run.verifiedCheckpoint}; the verifier will not go past the findings.`
        : "Nothing of this archive had verified before.",
      "",
      count > FINDINGS_IN_MESSAGE ? `The first ${FINDINGS_IN_MESSAGE}:` : "Findings:",
      ...shown,
      "",
      `The full report: ${report ?? "(none written)"}`,
      'What to do: docs/operations.md, "The scheduled verifier\'s alarms".',
    ].join("\n"),
  };
}

/** The message when a run could not complete at all (the archive, the index or the store unreadable). */
export function errorMessage(source: string, error: unknown): { subject: string; message: string } {
  return {
    subject: "sealtrail verification could not run",
    message: [
      `The scheduled verifier could not verify ${source}: ${(error as Error)?.message ?? String(error)}`,
      "Nothing was concluded by this run; the function's log has the error.",
      'What to do: docs/operations.md, "The scheduled verifier\'s alarms".',
    ].join("\n"),
  };
}
