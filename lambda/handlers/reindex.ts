// Placeholder entry point: the reindex job is being written (issue 3). The export names are the contract.
export async function handler(): Promise<void> {}
