// make phase5: Phase 5 end to end, after the Phase 3 walkthrough, each part as its own `make`:
// the agents' packages published (v1, and v2 a day later: the same card and code under a new
// digest), each agent run from the registry and listed, asked one thing each with the A2A SDK's
// client (plan; build on the plan's first step; test on the files build wrote), then plan
// upgraded to v2 and rolled back. The agents keep running afterwards. The packages are signed with
// KEY, made first with make keygen when missing (an Ed25519 key, whose signatures are the same
// bytes each time, so the packages' digests are too), so that make run's VERIFY=require passes.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { $ } from "zx";
import { env } from "../lib/env.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import { safeTarget } from "../lib/oci/artifacts.ts";
import { registryStateDir } from "../lib/registry-server.ts";
import { WORKSHOP_EPOCH } from "../lib/step/options.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

const DAY = 86_400;
const AGENTS = ["plan", "build", "test"];

export const step: Step = {
  name: "phase5",
  section: "Phase 5: Agent Lifecycle",
  runs: "make keygen (once), make packages (v1, v2) KEY=…, make run AGENT=… for each, make agents, make ask AGENT=plan, build, test, make upgrade AGENT=plan TO=v2, make rollback AGENT=plan",
  options: ["registry"],
  flags: {
    ports: { type: "string", env: "PORTS", help: "ports for plan,build,test instead of their cards' (where 8001-8003 are taken)" },
    key: { type: "string", env: "KEY", help: "the key the packages are signed with, made by make keygen when missing (default keys/phase5/<registry>/publisher.key.pem)" },
  },
  example: "make walkthrough && make phase5   (PORTS=18001,18002,18003 where 8001-8003 are taken)",
  async body({ options, flags, out }) {
    const ports = flags.ports ? String(flags.ports).split(",") : [];
    if (ports.length > 0 && ports.length !== AGENTS.length) throw new UsageError(`PORTS names ${ports.length} ports for the ${AGENTS.length} agents ${AGENTS.join(",")}`);
    // Each make gets phase 5's own values in its environment, not as make's command line (MAKEFLAGS),
    // where a target that does not read one of them (PORTS) would refuse it.
    const { MAKEFLAGS: _flags, MFLAGS: _mflags, ...outside } = process.env;
    const make = async (target: string, vars: Record<string, string | undefined> = {}) => {
      const args = Object.entries(vars).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
      const { exitCode } = await $({ stdio: "inherit", nothrow: true, env: outside })`make --no-print-directory ${target} ${args}`;
      if (exitCode !== 0) throw new CliError(`phase 5 stopped at \`make ${target} ${args.join(" ")}\` (exit ${exitCode}); the lines above say why`, exitCode === 2 ? 2 : 1);
    };
    const answers = path.join(env.agentsDir, "answers");
    await mkdir(answers, { recursive: true });
    const answer = async (agent: string) => JSON.parse(await readFile(path.join(answers, `${agent}.json`), "utf8"));
    const ask = (agent: string, input: unknown) => make("ask", { AGENT: agent, INPUT: JSON.stringify(input), ANSWER: path.join(answers, `${agent}.json`) });

    // v2 a day after v1 (SOURCE_DATE_EPOCH=now: each at the time of its push).
    const epoch = env.sourceDateEpoch ?? WORKSHOP_EPOCH;
    const createdAt = (days: number) => (epoch === "now" ? "now" : String(epoch + days * DAY));
    // A key per registry, trusted there by keygen (in TRUST_STORE), in keys/ (ignored by git): not
    // in tmp/, which make clean removes while TRUST_STORE would still name it.
    const key = (flags.key as string | undefined) ?? path.join(registryStateDir(options.registry, "keys/phase5"), "publisher.key.pem");
    if (!existsSync(key)) await make("keygen", { KEY: key, ALG: "EdDSA" });
    await make("packages", { TAG: "v1", SOURCE_DATE_EPOCH: createdAt(0), KEY: key });
    await make("packages", { TAG: "v2", SOURCE_DATE_EPOCH: createdAt(1), KEY: key });
    for (const [i, agent] of AGENTS.entries()) await make("run", { AGENT: agent, TAG: "v1", PORT: ports[i] });
    await make("agents");

    await ask("plan", { requirements: "List a user's open todos, then close a todo by its id", max_steps: 4 });
    const plan = await answer("plan");
    const first = plan.steps[1] ?? plan.steps[0];
    await ask("build", { plan_id: plan.plan_id, step_id: first.id, instructions: first.title, language: "typescript" });
    const project = path.join(env.workspace, plan.plan_id);
    for (const file of (await answer("build")).files) {
      const target = safeTarget(project, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, file.content ?? "");
    }
    out.ok(`wrote build's files into ${project}`);
    await ask("test", { project_path: plan.plan_id });

    await make("upgrade", { AGENT: "plan", TO: "v2" });
    await make("agents");
    await make("rollback", { AGENT: "plan" });
    out.ok(`Phase 5 done; the agents keep running: make agents shows them, make stop AGENT=<agent> stops one`);
  },
};

if (isMain(import.meta)) await main(step);
