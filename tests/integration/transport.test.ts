import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { OciError } from "../../lib/oci/errors.ts";
import { usesPlainHttp } from "../../lib/oci/reference.ts";
import { createTransport, type Transport, type TransportOptions } from "../../lib/oci/transport.ts";
import { orasPlainHttp } from "../../lib/oras/command.ts";
import { freePort, type RegistryProcess, startTestRegistry } from "../../lib/registry-server.ts";
import { silentServer } from "../helpers.ts";
import { type SecureRegistry, startBasicAuthRegistry } from "../servers.ts";

const port = (address: string) => address.slice(address.lastIndexOf(":") + 1);

describe("transport: TLS, plain HTTP and what a failure means", () => {
  let secure: SecureRegistry;
  let plain: RegistryProcess;
  let work: string;
  const transports: Transport[] = [];
  before(async () => {
    [secure, plain] = await Promise.all([startBasicAuthRegistry({ alice: "s3cret" }), startTestRegistry()]);
    work = mkdtempSync(path.join(os.tmpdir(), "pallet-transport-"));
  });
  after(async () => {
    await Promise.all(transports.map((transport) => transport.close()));
    await Promise.all([secure?.stop(), plain?.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  const transport = (options: TransportOptions) => {
    const made = createTransport(options);
    transports.push(made);
    return made;
  };

  /** GET /v2/ at registry through transport: the status, the body read to the end. */
  const ping = async (made: Transport, registry: string) => {
    const response = await made.fetch(`${made.baseUrl(registry)}/v2/`);
    await response.text();
    return response.status;
  };

  const failsWith = (kind: string, reason: string | undefined, pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof OciError, `expected an OciError, got ${error}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.details.reason, reason, error.message);
    assert.match(error.message, pattern);
    return true;
  };

  it("speaks plain HTTP as told; unasked, the built-in oras only to localhost, as oras does", () => {
    const asOras = (registry: string, flag?: boolean) => transport({ plainHttp: orasPlainHttp(registry, flag) }).baseUrl(registry);
    assert.equal(asOras("localhost:5001"), "http://localhost:5001");
    assert.equal(asOras("localhost"), "http://localhost");
    assert.equal(asOras("127.0.0.1:5001"), "https://127.0.0.1:5001");
    assert.equal(asOras("[::1]:5001"), "https://[::1]:5001");
    assert.equal(asOras("registry.example"), "https://registry.example");
    assert.equal(asOras("registry.example:5000", true), "http://registry.example:5000");
    assert.equal(asOras("localhost:5001", false), "https://localhost:5001");
    assert.equal(transport({}).baseUrl("localhost:5001"), "https://localhost:5001");
  });

  it("speaks plain HTTP unasked, as a client of this project, to every address of this machine and no other", () => {
    for (const registry of ["localhost:5001", "127.0.0.1:5001", "127.9.9.9", "[::1]:5001"]) assert.equal(usesPlainHttp(registry), true, registry);
    for (const registry of ["registry.example", "10.0.0.1:5000", "localhost.example:5000", "[::2]:5001"]) assert.equal(usesPlainHttp(registry), false, registry);
    assert.equal(usesPlainHttp("127.0.0.1:5001", false), false);
    assert.equal(usesPlainHttp("registry.example", true), true);
  });

  it("reaches a TLS registry whose CA it was given, by address and by name", async () => {
    const trusting = transport({ caFile: secure.caFile });
    assert.equal(await ping(trusting, secure.address), 401);
    assert.equal(await ping(transport({ caFile: secure.caFile, plainHttp: false }), `localhost:${port(secure.address)}`), 401);
    assert.match(trusting.trust, new RegExp(`^the system's CAs and ${secure.caFile} \\(CN=pallet-test-ca\\)$`));
  });

  it("refuses a certificate from an unknown CA, and accepts it when told to be insecure", async () => {
    await assert.rejects(
      ping(transport({}), secure.address),
      failsWith("tls", "untrusted-certificate", new RegExp(`^the TLS certificate of ${secure.address} is not signed by a trusted CA \\(.+\\)$`)),
    );
    const insecure = transport({ insecure: true });
    assert.equal(await ping(insecure, secure.address), 401);
    assert.equal(insecure.trust, "no certificate verification (insecure)");
  });

  it("names a TLS registry asked in plain HTTP, localhost's default included", async () => {
    const expected = failsWith("tls", "https-server", /speaks HTTPS, but the request went over plain HTTP \(it answered 400: "Client sent an HTTP request to an HTTPS server\."\)$/);
    await assert.rejects(ping(transport({ caFile: secure.caFile, plainHttp: true }), secure.address), expected);
    const localhost = `localhost:${port(secure.address)}`;
    await assert.rejects(ping(transport({ caFile: secure.caFile, plainHttp: orasPlainHttp(localhost) }), localhost), expected);
  });

  it("names a plain HTTP registry asked over TLS", async () => {
    await assert.rejects(
      ping(transport({}), plain.address),
      failsWith("tls", "plain-http-server", new RegExp(`^${plain.address} speaks plain HTTP, but the request went over HTTPS`)),
    );
    // Told the truth, it answers.
    assert.equal(await ping(transport({ plainHttp: true }), plain.address), 200);
  });

  it("says when nothing listens, and when nothing answers in time", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    await assert.rejects(ping(transport({}), closed), failsWith("unreachable", undefined, new RegExp(`^cannot reach the registry at https://${closed}: connection refused$`)));
    const silent = await silentServer();
    try {
      await assert.rejects(
        ping(transport({ plainHttp: true, timeoutMs: 300 }), silent.address),
        failsWith("timeout", undefined, new RegExp(`^the registry at http://${silent.address} did not answer GET /v2/ within 0.3 s$`)),
      );
    } finally {
      await silent.close();
    }
  });

  // Registries backed by object storage answer blob GETs with a redirect to it; Distribution on
  // a file system never does, so two small servers play the registry and the storage here.
  it("follows redirects, and sends Authorization to another origin never, as fetch does", async () => {
    const seen = new Map<string, string | undefined>();
    const listen = (handle: (request: http.IncomingMessage, response: http.ServerResponse) => void) =>
      new Promise<http.Server>((resolve) => {
        const server = http.createServer((request, response) => {
          seen.set(`${server === storage ? "storage" : "registry"} ${request.method} ${request.url}`, request.headers.authorization);
          handle(request, response);
        });
        server.listen(0, "127.0.0.1", () => resolve(server));
      });
    const portOf = (server: http.Server) => (server.address() as { port: number }).port;
    const storage: http.Server = await listen((_, response) => response.end("blob bytes"));
    const blobUrl = `http://127.0.0.1:${portOf(storage)}/bucket/blob?signature=abc`;
    const registry = await listen((request, response) => {
      const location = request.url === "/v2/same" ? "/v2/moved" : request.url === "/v2/moved" ? undefined : blobUrl;
      if (location) response.writeHead(request.method === "PUT" ? 303 : 307, { location });
      response.end(location ? "" : "same origin");
    });
    try {
      const made = transport({ plainHttp: true });
      const base = `http://127.0.0.1:${portOf(registry)}`;
      const authorization = "Bearer not-for-storage";

      const blob = await made.fetch(`${base}/v2/agents/plan/blobs/sha256:1`, { headers: { authorization } });
      assert.equal(await blob.text(), "blob bytes");
      assert.equal(blob.url, blobUrl);
      assert.equal(seen.get("registry GET /v2/agents/plan/blobs/sha256:1"), authorization);
      assert.equal(seen.get("storage GET /bucket/blob?signature=abc"), undefined, "the registry's credentials went to the storage");

      const same = await made.fetch(`${base}/v2/same`, { headers: { authorization } });
      assert.equal(await same.text(), "same origin");
      assert.equal(seen.get("registry GET /v2/moved"), authorization);

      // 303 turns a PUT into a GET without its body.
      const put = await made.fetch(`${base}/v2/upload`, { method: "PUT", body: "data", headers: { authorization } });
      assert.equal(await put.text(), "blob bytes");
      assert.ok(seen.has("storage GET /bucket/blob?signature=abc"));
    } finally {
      storage.close();
      registry.close();
      storage.closeAllConnections();
      registry.closeAllConnections();
    }
  });

  it("refuses a CA file that is missing or holds no certificate, naming it", () => {
    const missing = path.join(work, "missing.pem");
    assert.throws(() => createTransport({ caFile: missing }), failsWith("tls", "ca-file", new RegExp(`^cannot read CA file ${missing}: ENOENT$`)));
    const notPem = path.join(work, "not.pem");
    writeFileSync(notPem, "just text\n");
    assert.throws(() => createTransport({ caFile: notPem }), failsWith("tls", "ca-file", new RegExp(`^CA file ${notPem} holds no PEM certificate`)));
    const corrupt = path.join(work, "corrupt.pem");
    writeFileSync(corrupt, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert.throws(() => createTransport({ caFile: corrupt }), failsWith("tls", "ca-file", new RegExp(`^CA file ${corrupt}: certificate 1 is not a valid X.509 certificate$`)));
  });
});
