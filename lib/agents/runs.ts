// Where `make run` keeps the agents it started, AGENTS_DIR (tmp/agents by default), a directory
// per agent:
//
//   <agent>/state.json   what runs: tag, digest, registry, pid, port, URL, since when, what it may do; the version before it
//   <agent>/agent.log    what it printed
//   <agent>/<hex>/       a package unpacked, named by its manifest digest: manifest.json, agent-card.json, agent.js
//   <agent>/.unpack-*    a pull under way; removed when it ends, interrupted or not
//   <agent>/lock         held while a make run, stop, upgrade or rollback changes the agent
//
// Only the packages of the running version and the one before it are kept.
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { EnvironmentError } from "../errors.ts";
import { commandLine } from "./process.ts";

/** A published version of an agent's package. */
export interface Version {
  tag: string;
  digest: string;
  /** The registry its tag was resolved in: its card's signature must be by a key trusted there. */
  registry: string;
}

/** An agent started by `make run`. */
export interface AgentState extends Version {
  agent: string;
  pid: number;
  port: number;
  url: string;
  /** ISO time it became healthy. */
  started: string;
  /** Its Deno permission flags, and the same in words. */
  permissions: string[];
  may: string;
  /** What ran before an upgrade or rollback: where `make rollback` goes back to. */
  previous?: Version;
}

export class AgentRuns {
  /** `lockWaitMs`: how long a second command on an agent waits for the first to finish. */
  constructor(readonly root: string, private readonly lockWaitMs = 60_000) {}

  dir = (agent: string) => path.join(this.root, agent);
  packageDir = (agent: string, digest: string) => path.join(this.dir(agent), digest.replace(/^sha256:/, ""));
  logFile = (agent: string) => path.join(this.dir(agent), "agent.log");
  private stateFile = (agent: string) => path.join(this.dir(agent), "state.json");

  async state(agent: string): Promise<AgentState | undefined> {
    const text = await readFile(this.stateFile(agent), "utf8").catch(() => undefined);
    return text === undefined ? undefined : JSON.parse(text);
  }

  async save(state: AgentState): Promise<void> {
    const file = this.stateFile(state.agent);
    await writeFile(`${file}.${process.pid}`, JSON.stringify(state, null, 2) + "\n");
    await rename(`${file}.${process.pid}`, file);
  }

  forget = (agent: string) => rm(this.stateFile(agent), { force: true });

  /** The agents with a state here, besides those asked for. */
  async known(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const known = await Promise.all(names.map(async (name) => ((await this.state(name)) ? [name] : [])));
    return known.flat();
  }

  /** Whether the process of `state` still runs, and is the agent we started (its command line names its package). */
  isRunning = (state: AgentState) => commandLine(state.pid)?.includes(this.packageDir(state.agent, state.digest)) ?? false;

  /**
   * Runs `work` holding the agent's lock, so that two commands never change one agent at once:
   * the second waits for the first. A lock whose holder died is taken over.
   */
  async withLock<T>(agent: string, work: () => Promise<T>): Promise<T> {
    await mkdir(this.dir(agent), { recursive: true });
    const lock = path.join(this.dir(agent), "lock");
    // Written whole first, then linked into place: the lock never exists without its holder's pid.
    const mine = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}`;
    await writeFile(mine, String(process.pid));
    try {
      for (const deadline = Date.now() + this.lockWaitMs;;) {
        try {
          await link(mine, lock);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }
        const holder = Number(await readFile(lock, "utf8").catch(() => "0"));
        if (holder && commandLine(holder) === undefined) await rm(lock, { force: true });
        else if (Date.now() > deadline) throw new EnvironmentError(`${agent} is being changed by another command (pid ${holder}), which holds ${lock}`);
        else await sleep(50);
      }
    } finally {
      await rm(mine, { force: true });
    }
    try {
      return await work();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Removes the unpacked packages of `agent` that are neither `keep`. */
  async prune(agent: string, keep: (Version | undefined)[]): Promise<void> {
    const kept = new Set(keep.flatMap((version) => (version ? [this.packageDir(agent, version.digest)] : [])));
    const names = await readdir(this.dir(agent)).catch(() => [] as string[]);
    await Promise.all(names.filter((name) => /^[a-f0-9]{64}$/.test(name) && !kept.has(path.join(this.dir(agent), name)))
      .map((name) => rm(path.join(this.dir(agent), name), { recursive: true, force: true })));
  }
}
