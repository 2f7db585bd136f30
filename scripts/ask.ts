// Phase 5: ask a running agent something, with the official A2A SDK's own client: message/send
// (message/stream with STREAM=1, where the card says streaming) with INPUT as its skill's input,
// and the answer checked against the skill's output_schema with the project's validators.
import { writeFile } from "node:fs/promises";
import { agentClient, dataMessage, outcome } from "../lib/agents/client.ts";
import { skillOf, skillValidators } from "../lib/agents/skills.ts";
import { ContentError, UsageError } from "../lib/errors.ts";
import { AGENT_FLAG, agentOf, agentRuns, cardUrl, publishedCard } from "../lib/step/agents.ts";
import { isMain, main, type Step } from "../lib/step/run.ts";

export const step: Step = {
  name: "ask",
  section: "Phase 5: Ask an Agent",
  runs: "no oras command: the A2A SDK's client sends message/send to the agent's URL",
  options: ["registry", "tag"],
  flags: {
    ...AGENT_FLAG,
    input: { type: "string", env: "INPUT", help: "the skill's input, as JSON (required)" },
    stream: { type: "boolean", env: "STREAM", help: "message/stream: print each event as it comes" },
    answer: { type: "string", env: "ANSWER", help: "also write the checked answer to this file, as JSON" },
  },
  example: `make ask AGENT=plan INPUT='{"requirements": "Add OAuth login to a web app"}'`,
  async body({ options, flags, out, client: registry }) {
    const agent = agentOf(flags, "make ask AGENT=plan INPUT='{\"requirements\": \"…\"}'");
    let input;
    try {
      input = JSON.parse(String(flags.input));
    } catch {
      throw new UsageError(`INPUT must be the skill's input as JSON, not ${JSON.stringify(flags.input ?? "")}`, step.example);
    }
    const state = await agentRuns().state(agent);
    const published = state ? undefined : await publishedCard(registry, agent, options.tag);
    const url = state?.url ?? (published && cardUrl(published));
    if (!url) throw new UsageError(`${agent} is not running here, and REGISTRY has no card that says where it is`, `Start it: make run AGENT=${agent}`);
    const { client, card } = await agentClient(url);
    out.command(`message/${flags.stream ? "stream" : "send"} to ${url} (skill ${skillOf(card).id}): ${JSON.stringify(input)}`);
    let result;
    if (flags.stream) {
      for await (const event of client.sendMessageStream(dataMessage(input))) {
        out.note(`event: ${event.payload?.$case}`);
        if (event.payload?.$case === "task") result = event.payload.value;
        if (event.payload?.$case === "artifactUpdate" && result) result.artifacts.push(event.payload.value.artifact!);
        if (event.payload?.$case === "statusUpdate" && result) result.status = event.payload.value.status;
      }
    } else {
      result = await client.sendMessage(dataMessage(input));
    }
    const { state: ended, output, says } = outcome(result!);
    if (!output) throw new ContentError(`${agent} answered with a ${ended} task${says ? `: ${says}` : ""}`);
    const { output: valid } = skillValidators(card);
    if (!valid(output)) throw new ContentError(`${agent}'s answer does not match its output_schema: ${JSON.stringify(valid.errors)}`);
    out.ok(`${ended}; the answer matches ${skillOf(card).id}'s output_schema`);
    out.text(JSON.stringify(output, null, 2) + "\n");
    if (flags.answer) await writeFile(String(flags.answer), JSON.stringify(output, null, 2) + "\n");
    if (options.json) out.json({ agent, state: ended, output });
  },
};

if (isMain(import.meta)) await main(step);
