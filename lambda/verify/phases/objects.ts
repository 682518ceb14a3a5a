/**
 * Phase 4 of `verifyArchive`: the data objects. Every linked object is present and hashes to what its
 * link says, line by line (batch-check.ts); a data object no link names is a warning. Returns the
 * events read, for the index cross-check.
 */

import type { ChainLink } from "../../core/link";
import { mapLimit } from "../../core/map-limit";
import { type BatchCheck, type BatchCheckOptions, checkBatch } from "../batch-check";
import type { ObjectCheck, VerifyOptions } from "../verifier";
import type { OnChainWalked, VerifiedChains } from "./chains";
import type { IndexedEvent } from "./index-check";
import type { VerifyRun } from "./run";

/**
 * What a data object is checked for, from its link and its chain's attested size: a batch no
 * signature fixes is parsed line by line whatever was asked.
 */
function checkOptionsFor(options: Pick<VerifyOptions, "index" | "records">) {
  const keepEvents = options.index !== undefined;
  const signed: BatchCheckOptions = { keepEvents, records: options.records ?? false };
  const unsigned: BatchCheckOptions = { keepEvents, records: true };
  return (link: ChainLink, attestedSize: number) => (link.seq < attestedSize ? signed : unsigned);
}

/**
 * Checks that run elsewhere (the worker threads) started as soon as each chain is walked, while the
 * main thread still reads the other chains' links: otherwise the workers would wait for the whole
 * chain phase. A chain's attested size is known once it is walked, so each check is the one the
 * object phase would start; that phase takes the result of the link it checks, or starts its own.
 */
export class EarlyObjectChecks {
  readonly #started = new Map<
    string,
    { readonly link: ChainLink; readonly result: Promise<BatchCheck | undefined> }
  >();
  readonly #check: ObjectCheck;
  readonly #optionsFor: ReturnType<typeof checkOptionsFor>;

  constructor(check: ObjectCheck, options: Pick<VerifyOptions, "index" | "records">) {
    this.#check = check;
    this.#optionsFor = checkOptionsFor(options);
  }

  readonly onChainWalked: OnChainWalked = (links, attestedSize) => {
    for (const link of links) {
      const result = this.#check(link.batch.key, link.batch, this.#optionsFor(link, attestedSize));
      // Awaited in the object phase; until then a rejection (the pool failing) must not go unhandled.
      result.catch(() => {});
      this.#started.set(link.batch.key, { link, result });
    }
  };

  /** The check started for this object and link, if one was. */
  take(objectKey: string, link: ChainLink): Promise<BatchCheck | undefined> | undefined {
    const started = this.#started.get(objectKey);
    this.#started.delete(objectKey);
    return started?.link === link ? started.result : undefined;
  }
}

export async function verifyObjects(
  run: VerifyRun,
  options: Pick<VerifyOptions, "index" | "records" | "checkObject">,
  chains: Pick<VerifiedChains, "linked" | "attestedSize">,
  early?: EarlyObjectChecks,
): Promise<Map<string, IndexedEvent>> {
  const { findings, stats } = run;
  const linkedObjects = [...chains.linked.entries()];
  const events = new Map<string, IndexedEvent>();
  const optionsFor = checkOptionsFor(options);
  run.notes.push(
    options.records || options.index !== undefined
      ? "every line of every data object was parsed as a canonical event record"
      : "lines of data objects that a verified checkpoint covers and that match their links were read by " +
          "their fixed prefix (v, id, time) only, the signed Merkle root fixing the rest; every other line " +
          "was parsed; --records parses every line as an event record",
  );
  const check: ObjectCheck =
    options.checkObject ??
    (async (objectKey, batch, checkOptions) => {
      const bytes = await run.source.get(objectKey);
      return bytes && checkBatch(bytes, batch, checkOptions);
    });
  let objectsDone = 0;
  await mapLimit(linkedObjects, run.concurrency, async ([objectKey, { link, key }]) => {
    const result = await (early?.take(objectKey, link) ??
      check(objectKey, link.batch, optionsFor(link, chains.attestedSize.get(link.chain) ?? 0)));
    run.progress({ phase: "objects", done: ++objectsDone, total: linkedObjects.length });
    if (!result) {
      findings.error({
        code: "missing_object",
        key: objectKey,
        chain: link.chain,
        seq: link.seq,
        message: `${objectKey}, named by ${key}, is missing`,
      });
      return;
    }
    stats.objects++;
    stats.bytes += result.bytes;
    stats.events += link.batch.count;
    for (const problem of result.problems) {
      findings.error({
        code: problem.code,
        key: objectKey,
        chain: link.chain,
        seq: link.seq,
        ...(problem.line !== undefined ? { line: problem.line } : {}),
        message: `${objectKey} (chain ${link.chain} seq ${link.seq})${problem.line !== undefined ? ` line ${problem.line}` : ""}: ${problem.message}`,
      });
    }
    for (const event of result.events) {
      events.set(event.id, { ...event, key: objectKey, seq: link.seq, chain: link.chain });
    }
  });
  return events;
}

/**
 * Data objects no current link names, and no replaced link either (`overwritten`): never
 * acknowledged. Only a whole run judges them: an incremental one has not read the older links.
 */
export function warnUnlinkedObjects(
  run: VerifyRun,
  objectKeys: ReadonlySet<string>,
  linked: VerifiedChains["linked"],
  overwritten: ReadonlySet<string>,
): void {
  for (const objectKey of objectKeys) {
    if (!linked.has(objectKey) && !overwritten.has(objectKey)) {
      run.findings.warn({
        code: "unlinked_object",
        key: objectKey,
        message: run.source.seesVersions
          ? `${objectKey} is named by no version of any link: never acknowledged (a failed request, or planted); Athena's view ignores it`
          : `${objectKey} is named by no link in this copy: never acknowledged (a failed request, or planted), ` +
            "or its link was overwritten after it was acknowledged, which only --bucket can tell; Athena's view ignores it",
      });
    }
  }
}
