/** A test's own HTTP server (an app under test, a stand-in service) on a free loopback port. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ListeningServer {
  readonly url: string;
  /** Stops it at once: idle keep-alive connections are closed, not waited for. */
  close(): Promise<void>;
}

export async function listenOnLoopback(server: Server): Promise<ListeningServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
