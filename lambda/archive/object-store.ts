/**
 * The archive bucket as the write path, the reindex job and the query API use it: create-only puts,
 * reads of the current object, and key listings. A port shared by several services, so it lives here
 * rather than beside one of them; lambda/aws/object-store.ts implements it on S3, test/support's
 * MemoryObjectStore in memory. Nothing here can overwrite or delete.
 */

/**
 * created: this put stored the object. exists: the key was there already (412). conflict: another
 * conditional write of the key is in flight (S3's 409), so whether it will exist is not known yet.
 */
export type PutOutcome = "created" | "exists" | "conflict";

export interface ObjectStore {
  /**
   * Creates the object unless the key exists (If-None-Match: *, with a SHA-256 checksum). Any other
   * failure is thrown once the client's own retries are spent; the put's outcome is then unknown.
   */
  putIfAbsent(key: string, bytes: Uint8Array, contentType: string): Promise<PutOutcome>;
  /** The current bytes of `key`; undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under a prefix, in S3's (lexicographic) order, after `startAfter` when given. */
  listKeys(prefix: string, startAfter?: string): AsyncIterable<string>;
}

/** What a reader needs: the query API and the proof builder never write through this port. */
export type ObjectReader = Pick<ObjectStore, "get" | "listKeys">;
