import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { OciError } from "../../lib/oci/errors.ts";
import { Registry } from "../../lib/oci/registry.ts";

const CREDENTIALS = { Authorization: "Basic dXNlcjpwYXNz" };

describe("credentials and plain HTTP", () => {
  // Records what reaches this machine, to show loopback still gets the header.
  let server: http.Server;
  let loopback: string;
  const seen: (string | undefined)[] = [];
  before(async () => {
    server = http.createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    loopback = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refused = (error: unknown) => {
    assert.ok(error instanceof OciError && error.kind === "unauthorized", `expected an unauthorized OciError, got ${error}`);
    assert.match(error.message, /^refusing to send credentials over plain HTTP to registry\.example\.com:5000$/);
    return true;
  };

  it("refuses to send an Authorization header over plain HTTP to another host, whatever its case", async () => {
    const client = new Registry("registry.example.com:5000", { plainHttp: true });
    await assert.rejects(client.request("/v2/", { headers: CREDENTIALS }), refused);
    await assert.rejects(client.request("/v2/", { headers: { authorization: "Bearer t" } }), refused);
  });

  it("refuses it when a loopback registry's answer points at another host over plain HTTP", async () => {
    const client = new Registry(loopback);
    await assert.rejects(client.request("http://registry.example.com:5000/v2/", { headers: CREDENTIALS }), refused);
  });

  it("sends it over plain HTTP to loopback, and sends other requests anywhere", async () => {
    const response = await new Registry(loopback).request("/v2/", { headers: CREDENTIALS });
    await response.body?.cancel();
    assert.deepEqual(seen, [CREDENTIALS.Authorization]);
    // What matters is that the guard lets it through: a transport that records, rather than a
    // request to a host off this machine.
    const sent: string[] = [];
    const recording = {
      baseUrl: (host: string) => `http://${host}`,
      fetch: (url: string) => {
        sent.push(url);
        return Promise.resolve(new Response("{}"));
      },
      trust: "none",
      close: () => Promise.resolve(),
    };
    const remote = new Registry("registry.example.com:5000", { transport: recording });
    await (await remote.request("/v2/")).body?.cancel();
    assert.deepEqual(sent, ["http://registry.example.com:5000/v2/"]);
  });
});
