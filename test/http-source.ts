/**
 * A real HTTP server on 127.0.0.1 that plays the dataset host in tests: plain files, a source
 * that answers 503 once before succeeding, a 404, a slow answer, and an endless trickle.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpSource {
  url(path: string): string;
  /** Requests seen per path. */
  hits: Map<string, number>;
  /** Sets the body served at /files/<name> (text, or bytes as they are). */
  files: Map<string, string | Buffer>;
  close(): Promise<void>;
}

export async function startHttpSource(): Promise<HttpSource> {
  const hits = new Map<string, number>();
  const files = new Map<string, string | Buffer>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const count = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, count);
    const [, kind, name = ''] = url.pathname.split('/');
    const body = files.get(name) ?? `body of ${name}\n`;
    if (kind === 'files') return void res.end(body);
    if (kind === 'flaky') {
      if (count === 1) {
        res.statusCode = 503;
        return void res.end('try again');
      }
      return void res.end(body);
    }
    if (kind === 'missing') {
      res.statusCode = 404;
      return void res.end('no such file');
    }
    if (kind === 'slow') {
      const timer = setTimeout(() => res.end(body), Number(url.searchParams.get('ms') ?? 1_000));
      req.on('close', () => clearTimeout(timer));
      return;
    }
    if (kind === 'trickle') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write('x'.repeat(64)), 100);
      const stop = setTimeout(() => {
        clearInterval(timer);
        res.end();
      }, 120_000);
      res.on('close', () => {
        clearInterval(timer);
        clearTimeout(stop);
      });
      return;
    }
    res.statusCode = 400;
    res.end('unknown route');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    files,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
