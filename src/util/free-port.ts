// A TCP port the kernel says is free (for the training ranks' rendezvous and serve's private Redis).
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago (the usual race: another process may take it first). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
