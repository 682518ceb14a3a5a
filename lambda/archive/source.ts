/**
 * What the signer and the verifier read an archive through: a listing that shows every version and
 * delete marker where the store has them, and reads of the current object.
 *
 * Two kinds: an S3 bucket (lambda/aws/archive-source.ts, from version listings) and a plain directory
 * copy of the bucket (below), which holds one file per key and so cannot show versions.
 */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export interface ArchiveEntry {
  readonly key: string;
  /** False for a delete marker. */
  readonly isObject: boolean;
  /** True for the version a plain GET returns (or would hide, for a delete marker). */
  readonly isLatest: boolean;
  readonly versionId?: string;
  readonly size?: number;
}

export interface ArchiveSource {
  /** What the report says it read: `s3://bucket` or a directory path. */
  readonly description: string;
  /** False for a directory copy: second versions and delete markers cannot be seen there. */
  readonly seesVersions: boolean;
  /** Every entry under `prefix` in key order (all versions of a key together), after `keyMarker`. */
  list(prefix: string, keyMarker?: string): AsyncIterable<ArchiveEntry>;
  /** The names one level below `prefix` (S3's CommonPrefixes with delimiter "/"), e.g. chain ids. */
  listChildren(prefix: string): Promise<string[]>;
  /** The current bytes of `key`; undefined when there are none (absent, or behind a delete marker). */
  get(key: string): Promise<Buffer | undefined>;
  /**
   * The bytes of one version the listing showed, e.g. a link version that another replaced; only a
   * source that sees versions has it.
   */
  getVersion?(key: string, versionId: string): Promise<Buffer | undefined>;
}

/** A local copy of a bucket: the same keys as files under `root`. */
export class DirectorySource implements ArchiveSource {
  readonly seesVersions = false;
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = root;
  }

  async *list(prefix: string, keyMarker?: string): AsyncIterable<ArchiveEntry> {
    // Walk only the deepest directory the prefix names; keys compare as S3 compares them (UTF-8 order).
    const slash = prefix.lastIndexOf("/");
    const base = slash >= 0 ? prefix.slice(0, slash + 1) : "";
    const keys: string[] = [];
    await this.walk(join(this.root, base), keys);
    keys.sort(compareKeys);
    for (const key of keys) {
      if (!key.startsWith(prefix) || (keyMarker !== undefined && compareKeys(key, keyMarker) <= 0)) continue;
      yield { key, isObject: true, isLatest: true };
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, prefix), { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    if (key.split("/").some((part) => part === ".." || part === "." || part === "")) return undefined;
    try {
      // Synchronous on purpose: an asynchronous read of a small file is four thread-pool round trips
      // (open, stat, read, close), several times the cost of reading it; a verify run reads two
      // files per batch from a local disk.
      return readFileSync(join(this.root, key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return undefined;
      throw error;
    }
  }

  private async walk(dir: string, into: string[]): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(path, into);
      else if (entry.isFile()) into.push(relative(this.root, path).split(sep).join("/"));
    }
  }
}

/**
 * S3 lists keys in UTF-8 binary order; JavaScript compares UTF-16 code units. The two orders differ
 * only where a string holds a surrogate (U+10000 and up) or a code unit from U+E000 on, so strings
 * without either compare as they are, without encoding them.
 */
export function compareKeys(a: string, b: string): number {
  if (!BYTE_ORDER_DIFFERS.test(a) && !BYTE_ORDER_DIFFERS.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const BYTE_ORDER_DIFFERS = /[\uD800-\uFFFF]/;

/** All entries of one key: its versions and delete markers, as a listing returned them. */
export interface KeyHistory {
  readonly key: string;
  readonly entries: readonly ArchiveEntry[];
}

export function isSingleObject(history: KeyHistory): boolean {
  return history.entries.length === 1 && (history.entries[0] as ArchiveEntry).isObject;
}

/** Groups a key-ordered listing by key. */
export async function* byKey(entries: AsyncIterable<ArchiveEntry>): AsyncIterable<KeyHistory> {
  let current: ArchiveEntry[] = [];
  for await (const entry of entries) {
    if (current.length > 0 && (current[0] as ArchiveEntry).key !== entry.key) {
      yield { key: (current[0] as ArchiveEntry).key, entries: current };
      current = [];
    }
    current.push(entry);
  }
  if (current.length > 0) yield { key: (current[0] as ArchiveEntry).key, entries: current };
}
