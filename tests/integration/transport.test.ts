import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OciError } from "../../lib/oci/errors.ts";
import { createTransport, type Transport, type TransportOptions } from "../../lib/oci/transport.ts";
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

  it("speaks plain HTTP unasked only to localhost, as oras does, and as told otherwise", () => {
    const unset = transport({});
    assert.equal(unset.baseUrl("localhost:5001"), "http://localhost:5001");
    assert.equal(unset.baseUrl("localhost"), "http://localhost");
    assert.equal(unset.baseUrl("127.0.0.1:5001"), "https://127.0.0.1:5001");
    assert.equal(unset.baseUrl("[::1]:5001"), "https://[::1]:5001");
    assert.equal(unset.baseUrl("registry.example"), "https://registry.example");
    assert.equal(transport({ plainHttp: true }).baseUrl("registry.example:5000"), "http://registry.example:5000");
    assert.equal(transport({ plainHttp: false }).baseUrl("localhost:5001"), "https://localhost:5001");
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
    await assert.rejects(ping(transport({ caFile: secure.caFile }), `localhost:${port(secure.address)}`), expected);
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
