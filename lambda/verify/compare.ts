/**
 * `sealtrail verify --compare`: two copies of an archive (the source and its replica) side by side,
 * from both buckets' version listings. Every key that one holds and the other does not, and every key
 * whose versions differ (count, size, SHA-256 of the bytes, delete markers), is a difference. Version
 * ids are not compared: a replica made by S3 Replication keeps them, a copy made any other way does
 * not, and neither says anything about the bytes.
 *
 * Both listings are read once, in key order, side by side (a merge), so memory stays bounded by one
 * chunk of keys; checksums are read only for keys whose listings agree, with bounded concurrency.
 */

import { type ArchiveEntry, byKey, compareKeys, type KeyHistory } from "../archive/source";
import { mapLimit } from "../core/map-limit";

/** One side of a comparison: a bucket's version listing and the checksum of any version it lists. */
export interface ComparedBucket {
  /** What the report names it: `s3://bucket`. */
  readonly description: string;
  /** Every version and delete marker under `prefix`, in key order (all of a key's entries together). */
  list(prefix: string): AsyncIterable<ArchiveEntry>;
  /** SHA-256 (base64) of one listed version's bytes. */
  sha256(key: string, versionId: string | undefined): Promise<string>;
}

/** What one copy holds under a key. */
export interface KeyContents {
  /** Object versions, in listing order (newest first in S3). */
  readonly versions: readonly { readonly size?: number; readonly sha256?: string }[];
  readonly deleteMarkers: number;
  /** True when a plain GET finds nothing: the newest entry is a delete marker. */
  readonly hidden: boolean;
}

export interface CompareDifference {
  /** `missing`: the key is in one copy only. `different`: both have it, with other contents. */
  readonly code: "missing" | "different";
  readonly key: string;
  /** For `missing`: the copy that lacks the key. */
  readonly missingFrom?: string;
  readonly first?: KeyContents;
  readonly second?: KeyContents;
  readonly message: string;
}

export interface CompareReport {
  /** `same`: every key matches; `empty`: neither copy holds anything, so nothing was compared. */
  readonly outcome: "same" | "different" | "empty";
  readonly first: string;
  readonly second: string;
  readonly stats: {
    readonly keys: { readonly first: number; readonly second: number };
    readonly versions: { readonly first: number; readonly second: number };
    /** Keys present in both whose every version's checksum was compared. */
    readonly checksummed: number;
  };
  readonly differences: readonly CompareDifference[];
}

export interface CompareOptions {
  readonly first: ComparedBucket;
  readonly second: ComparedBucket;
  /** Checksum reads in flight. @default 32 */
  readonly concurrency?: number;
  /** Keys compared per round of checksum reads. @default 500 */
  readonly chunkKeys?: number;
}

/** Compares two copies of an archive: the whole of both buckets. */
export async function compareArchives(options: CompareOptions): Promise<CompareReport> {
  const { first, second } = options;
  const concurrency = options.concurrency ?? 32;
  const chunkKeys = options.chunkKeys ?? 500;
  const differences: CompareDifference[] = [];
  const stats = { keys: { first: 0, second: 0 }, versions: { first: 0, second: 0 }, checksummed: 0 };
  let pending: { a: KeyHistory; b: KeyHistory }[] = [];

  const flush = async () => {
    const pairs = pending;
    pending = [];
    const results = await mapLimit(pairs, Math.max(1, Math.ceil(concurrency / 2)), async ({ a, b }) => {
      const [left, right] = await Promise.all([withChecksums(first, a), withChecksums(second, b)]);
      return { key: a.key, left, right };
    });
    for (const { key, left, right } of results) {
      stats.checksummed++;
      if (!sameContents(left, right)) differences.push(different(key, left, right, first, second));
    }
  };

  const count = (history: KeyHistory, side: "first" | "second") => {
    stats.keys[side]++;
    stats.versions[side] += history.entries.filter((entry) => entry.isObject).length;
  };

  for await (const pair of mergeByKey(first.list(""), second.list(""))) {
    if (pair.a) count(pair.a, "first");
    if (pair.b) count(pair.b, "second");
    if (pair.a && pair.b) {
      const left = contentsOf(pair.a);
      const right = contentsOf(pair.b);
      // Listings that disagree already differ; checksums are read only to confirm equal listings.
      if (sameContents(left, right)) pending.push({ a: pair.a, b: pair.b });
      else differences.push(different(pair.a.key, left, right, first, second));
      if (pending.length >= chunkKeys) await flush();
    } else if (pair.a) {
      differences.push(missing(pair.a, "first", first, second));
    } else if (pair.b) {
      differences.push(missing(pair.b, "second", second, first));
    }
  }
  await flush();

  differences.sort((x, y) => compareKeys(x.key, y.key));
  const empty = stats.keys.first === 0 && stats.keys.second === 0;
  return {
    outcome: differences.length > 0 ? "different" : empty ? "empty" : "same",
    first: first.description,
    second: second.description,
    stats,
    differences,
  };
}

/** Walks two key-ordered listings together: each key once, with its history in either or both. */
async function* mergeByKey(
  left: AsyncIterable<ArchiveEntry>,
  right: AsyncIterable<ArchiveEntry>,
): AsyncIterable<{ a?: KeyHistory; b?: KeyHistory }> {
  const as = byKey(left)[Symbol.asyncIterator]();
  const bs = byKey(right)[Symbol.asyncIterator]();
  let a = await as.next();
  let b = await bs.next();
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : compareKeys(a.value.key, b.value.key);
    if (order === 0) {
      yield { a: a.value as KeyHistory, b: b.value as KeyHistory };
      [a, b] = await Promise.all([as.next(), bs.next()]);
    } else if (order < 0) {
      yield { a: a.value as KeyHistory };
      a = await as.next();
    } else {
      yield { b: b.value as KeyHistory };
      b = await bs.next();
    }
  }
}

function contentsOf(history: KeyHistory): KeyContents {
  const objects = history.entries.filter((entry) => entry.isObject);
  const markers = history.entries.filter((entry) => !entry.isObject);
  return {
    versions: objects.map((entry) => ({ size: entry.size })),
    deleteMarkers: markers.length,
    hidden: markers.some((entry) => entry.isLatest),
  };
}

async function withChecksums(bucket: ComparedBucket, history: KeyHistory): Promise<KeyContents> {
  const contents = contentsOf(history);
  const objects = history.entries.filter((entry) => entry.isObject);
  const sums = await Promise.all(objects.map((entry) => bucket.sha256(history.key, entry.versionId)));
  return { ...contents, versions: contents.versions.map((version, i) => ({ ...version, sha256: sums[i] })) };
}

function sameContents(left: KeyContents, right: KeyContents): boolean {
  return (
    left.deleteMarkers === right.deleteMarkers &&
    left.hidden === right.hidden &&
    left.versions.length === right.versions.length &&
    left.versions.every((version, i) => {
      const other = right.versions[i];
      return other !== undefined && version.size === other.size && version.sha256 === other.sha256;
    })
  );
}

/** "1 version (1234 bytes, sha256 abc…)", "2 versions (…; …) and 1 delete marker (hidden)". */
export function describeContents(contents: KeyContents): string {
  const versions = contents.versions.map((version) =>
    [
      version.size !== undefined ? `${version.size} bytes` : undefined,
      version.sha256 !== undefined ? `sha256 ${version.sha256}` : undefined,
    ]
      .filter(Boolean)
      .join(", "),
  );
  const parts = [
    `${plural(contents.versions.length, "version")}${versions.length ? ` (${versions.join("; ")})` : ""}`,
  ];
  if (contents.deleteMarkers > 0) parts.push(plural(contents.deleteMarkers, "delete marker"));
  return parts.join(" and ") + (contents.hidden ? ", hidden by its delete marker" : "");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function missing(
  history: KeyHistory,
  side: "first" | "second",
  holder: ComparedBucket,
  lacker: ComparedBucket,
): CompareDifference {
  const contents = contentsOf(history);
  return {
    code: "missing",
    key: history.key,
    missingFrom: lacker.description,
    [side]: contents,
    message: `${history.key} is in ${holder.description} (${describeContents(contents)}) but not in ${lacker.description}`,
  };
}

function different(
  key: string,
  left: KeyContents,
  right: KeyContents,
  first: ComparedBucket,
  second: ComparedBucket,
): CompareDifference {
  return {
    code: "different",
    key,
    first: left,
    second: right,
    message:
      `${key} differs: ${first.description} has ${describeContents(left)}, ` +
      `${second.description} has ${describeContents(right)}`,
  };
}
