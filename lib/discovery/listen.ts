// An HTTP server for an answering function, on each runtime's own server: Deno.serve under Deno
// (1.5 times as many small answers a second here as Deno's node:http), node:http under Node.
// Only GET and HEAD reach the function's answer as it is; HEAD gets no body.

/** What a request asks: method, path with query, and its headers by lower-case name. */
export interface Asked {
  method: string;
  url: string;
  header(name: string): string | undefined;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

export interface Listening {
  port: number;
  /** Stops taking requests and waits for those in flight, at most `drainMs`. */
  close(drainMs: number): Promise<void>;
}

/** Thrown when the address cannot be listened on: in use, not this machine's, or not allowed. */
export class ListenError extends Error {}

const withoutBody = (asked: Asked, answer: Answer) => (asked.method === "HEAD" || answer.status === 304 ? undefined : answer.body);

export function listen(host: string, port: number, answer: (asked: Asked) => Promise<Answer>): Promise<Listening> {
  return "Deno" in globalThis ? listenDeno(host, port, answer) : listenNode(host, port, answer);
}

// Async, so that a failure to listen rejects, as under Node.
async function listenDeno(host: string, port: number, answer: (asked: Asked) => Promise<Answer>): Promise<Listening> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: host, port, onListen() {} }, async (request) => {
      const url = new URL(request.url);
      const asked = { method: request.method, url: url.pathname + url.search, header: (name: string) => request.headers.get(name) ?? undefined };
      const answered = await answer(asked);
      return new Response((withoutBody(asked, answered) ?? null) as BodyInit | null, { status: answered.status, headers: answered.headers });
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw new ListenError("the port is in use");
    if (error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.PermissionDenied) throw new ListenError((error as Error).message);
    throw error;
  }
  return {
    port: server.addr.port,
    close: async (drainMs) => {
      let drained;
      await Promise.race([server.shutdown(), new Promise<void>((resolve) => (drained = setTimeout(resolve, drainMs)))]);
      clearTimeout(drained);
    },
  };
}

async function listenNode(host: string, port: number, answer: (asked: Asked) => Promise<Answer>): Promise<Listening> {
  const { createServer } = await import("node:http");
  const server = createServer(async (request, response) => {
    const asked = {
      method: request.method ?? "GET",
      url: request.url ?? "/",
      header: (name: string) => [request.headers[name]].flat()[0],
    };
    const answered = await answer(asked);
    response.writeHead(answered.status, answered.headers);
    response.end(withoutBody(asked, answered));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const known = error.code === "EADDRINUSE" || error.code === "EACCES" || error.code === "EADDRNOTAVAIL";
      reject(known ? new ListenError(error.code === "EADDRINUSE" ? "the port is in use" : error.message) : error);
    });
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: async (drainMs) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = setTimeout(() => server.closeAllConnections(), drainMs);
      await closed;
      clearTimeout(drained);
    },
  };
}
