// Starts real docker-registry processes; a fake `docker` on PATH makes the Docker branch
// testable here and keeps a real engine on a developer's machine out of the way.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { EnvironmentError } from "../../lib/errors.ts";
import {
  DEFAULT_CONFIG_FILE,
  ensureRegistry,
  freePort,
  registryAnswers,
  registryStateDir,
  registryStatus,
  startDistribution,
  startTestRegistry,
  stopAllRegistries,
  stopRegistry,
} from "../../lib/registry-server.ts";

const work = mkdtempSync(path.join(os.tmpdir(), "registry-server-test-"));
const fakeBin = path.join(work, "bin");
const ORIGINAL_PATH = process.env.PATH ?? "";

// `info` succeeds only with FAKE_DOCKER_ENGINE=up; a "container" is a docker-registry
// process serving the host:port of `-p HOST:PORT:5000`, its pid is the container id.
const FAKE_DOCKER = `#!/bin/sh
case "$1" in
  info) [ "$FAKE_DOCKER_ENGINE" = up ] ;;
  run)
    REGISTRY_HTTP_ADDR="\\"\${4%:5000}\\"" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="${work}/container-data" \\
      docker-registry serve "${DEFAULT_CONFIG_FILE}" >"${work}/container.log" 2>&1 </dev/null &
    echo "$!" ;;
  rm)
    kill "$3" && while [ -n "$(tr -d '\\0' <"/proc/$3/cmdline" 2>/dev/null)" ]; do sleep 0.05; done ;;
  *) exit 1 ;;
esac
`;

const cleanups: Array<() => Promise<unknown>> = [];

/** A fresh state root, as tmp/registry/ is for `make registry`; what a failed test left running is stopped in after(). */
function stateRoot(): string {
  const root = mkdtempSync(path.join(work, "state-"));
  cleanups.push(() => stopAllRegistries(root));
  return root;
}

/** Exited means gone or a zombie: Deno leaves an unref'd child unreaped while it runs. */
const isRunning = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8") !== "";
  } catch {
    return false;
  }
};

/** The pid of a process that has already exited. */
function deadPid(): Promise<number> {
  const child = spawn("/bin/sh", ["-c", "exit 0"]);
  return new Promise((resolve) => child.once("exit", () => resolve(child.pid ?? 0)));
}

const useFakeDocker = () => (process.env.PATH = `${fakeBin}${path.delimiter}${ORIGINAL_PATH}`);

before(() => {
  mkdirSync(fakeBin);
  writeFileSync(path.join(fakeBin, "docker"), FAKE_DOCKER, { mode: 0o755 });
  useFakeDocker();
});
afterEach(() => {
  useFakeDocker();
  delete process.env.FAKE_DOCKER_ENGINE;
});
after(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  process.env.PATH = ORIGINAL_PATH;
  rmSync(work, { recursive: true, force: true });
});

describe("startTestRegistry", () => {
  it("gives each caller its own registry, and stop() removes it with its data", async () => {
    const [first, second] = await Promise.all([startTestRegistry(), startTestRegistry()]);
    assert.notEqual(first.address, second.address);
    assert.match(first.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(await registryAnswers(first.address), true);
    assert.equal(await registryAnswers(second.address), true);

    await Promise.all([first.stop(), second.stop()]);
    for (const registry of [first, second]) {
      assert.equal(await registryAnswers(registry.address), false);
      assert.equal(isRunning(registry.pid), false);
      assert.equal(existsSync(path.dirname(registry.logFile)), false);
    }
  });
});

describe("startDistribution", () => {
  it("reports a registry that dies on startup with the end of its log", async () => {
    const config = path.join(work, "broken.yml");
    writeFileSync(config, "version: [0.1\n");
    const start = startDistribution({
      port: await freePort(),
      storageDir: path.join(work, "broken-data"),
      logFile: path.join(work, "broken.log"),
      configFile: config,
    });
    await assert.rejects(start, (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, /did not come up at 127\.0\.0\.1:\d+: it exited with code 1/);
      assert.match(error.message, /configuration error/);
      return true;
    });
  });
});

describe("ensureRegistry, stopRegistry and registryStatus", () => {
  it("start docker-registry in the background, reuse it, then stop it", async () => {
    const address = `localhost:${await freePort()}`;
    const root = stateRoot();
    const state = registryStateDir(address, root);
    assert.equal(state, path.join(root, address.replace(":", "_")));
    mkdirSync(state);
    writeFileSync(path.join(state, "registry.pid"), `${await deadPid()}\n`);

    const started = await ensureRegistry(address, root);
    assert.equal(started.reused, false);
    assert.equal(started.how, "docker-registry");
    const pid = Number(readFileSync(path.join(state, "registry.pid"), "utf8"));
    assert.equal(isRunning(pid), true);
    assert.ok(existsSync(path.join(state, "data")));
    assert.deepEqual(await registryStatus(address, root), { state: "answering", startedByUs: true, how: "docker-registry" });

    const again = await ensureRegistry(address, root);
    assert.equal(again.reused, true);
    assert.match(again.detail, new RegExp(`already running: docker-registry \\(pid ${pid}\\)`));

    assert.match(await stopRegistry(address, root), new RegExp(`stopped docker-registry \\(pid ${pid}\\)`));
    assert.equal(isRunning(pid), false);
    assert.equal(existsSync(path.join(state, "registry.pid")), false);
    assert.deepEqual(await registryStatus(address, root), { state: "down" });
    assert.match(await stopRegistry(address, root), /nothing to stop/);
  });

  it("keep each address to itself: a second one starts, and stopping one leaves the other running", async () => {
    const root = stateRoot();
    const [first, second] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    assert.equal((await ensureRegistry(first, root)).reused, false);
    assert.equal((await ensureRegistry(second, root)).reused, false);

    assert.match(await stopRegistry(first, root), /stopped docker-registry/);
    assert.equal(await registryAnswers(first), false);
    assert.deepEqual(await registryStatus(second, root), { state: "answering", startedByUs: true, how: "docker-registry" });

    const stopped = await stopAllRegistries(root);
    assert.equal(stopped.length, 1);
    assert.equal(await registryAnswers(second), false);
  });

  it("start one registry for two callers at once at a fresh address; the other waits for it", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const root = stateRoot();
    const results = await Promise.all([ensureRegistry(address, root), ensureRegistry(address, root)]);
    assert.deepEqual(results.map((result) => result.reused).sort(), [false, true]);
    assert.equal(results.find((result) => result.reused)?.how, "docker-registry");
    assert.equal(existsSync(path.join(registryStateDir(address, root), "start.lock")), false);
  });

  it("take over a start lock left by a process that died", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const root = stateRoot();
    const state = registryStateDir(address, root);
    mkdirSync(state);
    writeFileSync(path.join(state, "start.lock"), String(await deadPid()));
    assert.equal((await ensureRegistry(address, root)).reused, false);
  });

  it("take over a start lock older than any start, whatever process now has its pid", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const root = stateRoot();
    const state = registryStateDir(address, root);
    mkdirSync(state);
    const lock = path.join(state, "start.lock");
    writeFileSync(lock, String(process.pid));
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, anHourAgo, anHourAgo);
    assert.equal((await ensureRegistry(address, root)).reused, false);
  });

  it("keep the previous start's log as registry.log.1", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const root = stateRoot();
    const log = path.join(registryStateDir(address, root), "registry.log");
    await ensureRegistry(address, root);
    await stopRegistry(address, root);
    const firstLog = readFileSync(log, "utf8");
    assert.match(firstLog, /listening on/);

    await ensureRegistry(address, root);
    assert.equal(readFileSync(`${log}.1`, "utf8"), firstLog);
    assert.notEqual(readFileSync(log, "utf8"), firstLog);
  });

  it("run the registry:2 container when a Docker engine answers, and remove it on stop", async () => {
    process.env.FAKE_DOCKER_ENGINE = "up";
    const address = `127.0.0.1:${await freePort()}`;
    const root = stateRoot();
    const state = registryStateDir(address, root);

    const started = await ensureRegistry(address, root);
    assert.deepEqual([started.reused, started.how], [false, "docker"]);
    assert.match(started.detail, new RegExp(`started Docker container registry-127\\.0\\.0\\.1_${address.split(":")[1]} `));
    assert.equal(existsSync(path.join(state, "registry.docker")), true);
    assert.deepEqual(await registryStatus(address, root), { state: "answering", startedByUs: true, how: "docker" });

    assert.match(await stopRegistry(address, root), /removed Docker container registry-/);
    assert.equal(existsSync(path.join(state, "registry.docker")), false);
    assert.equal(await registryAnswers(address), false);
  });

  it("leave a registry they did not start alone", async () => {
    const registry = await startTestRegistry();
    try {
      const root = stateRoot();
      const state = registryStateDir(registry.address, root);
      mkdirSync(state);
      // A pid file whose number now belongs to another process, here this one.
      writeFileSync(path.join(state, "registry.pid"), `${process.pid}\n`);
      const reused = await ensureRegistry(registry.address, root);
      assert.deepEqual([reused.reused, reused.how], [true, "external"]);
      assert.deepEqual(await registryStatus(registry.address, root), { state: "answering", startedByUs: false });
      assert.match(await stopRegistry(registry.address, root), /we did not start it; leaving it alone/);
      assert.deepEqual(await stopAllRegistries(root), []);
      assert.equal(await registryAnswers(registry.address), true);
    } finally {
      await registry.stop();
    }
  });

  it("refuse a port held by an HTTP server that is not a registry", async () => {
    const server: Server = createServer((_request, response) => response.writeHead(403).end("AirPlay"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      await assert.rejects(ensureRegistry(`127.0.0.1:${port}`, stateRoot()), (error: unknown) => {
        assert.ok(error instanceof EnvironmentError);
        assert.match(error.message, /is taken by something that is not a registry \(GET \/v2\/ answered 403\)/);
        return true;
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("start nothing for an address on another machine", async () => {
    const root = stateRoot();
    await assert.rejects(ensureRegistry("registry.example.invalid:5000", root), (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.hint ?? "", /Only registries on this machine/);
      return true;
    });
    assert.deepEqual(readdirSync(root), []);
  });

  it("say how to get a registry when neither Docker nor docker-registry is there", async () => {
    process.env.PATH = fakeBin;
    const address = `localhost:${await freePort()}`;
    await assert.rejects(ensureRegistry(address, stateRoot()), (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.hint ?? "", /sudo apt-get install docker-registry/);
      assert.match(error.hint ?? "", /docker run -d -p 5000:5000 --name registry registry:2/);
      return true;
    });
  });
});
