/** Exit statuses every sealtrail command shares. */
/** 1 is an integrity finding for `verify`, and an error answer of the API for `query` and `proof`. */
export const EXIT = { ok: 0, finding: 1, httpError: 1, usage: 2 } as const;

/** A usage or I/O problem: reported on stderr, exit 2, nothing concluded about the archive. */
export class CliError extends Error {
  override readonly name = "CliError";
}
