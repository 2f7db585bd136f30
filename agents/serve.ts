// What the three fixture agents share: the HTTP server. It serves the card at
// /.well-known/agent-card.json byte for byte as published, and A2A 0.3 JSON-RPC at the card's URL
// through the official SDK's own handlers (message/send, and message/stream where the card says
// streaming: true; the SDK refuses it otherwise). A skill is a function from its input to its
// output; both are checked against the skill's schemas, compiled into the package when it was
// built (lib/agents/bundle.ts), so the agent needs no schema compiler when it starts.
//
// Started as `deno run --allow-net=127.0.0.1:PORT --allow-read=DIR agent.js --card DIR/agent-card.json
// --port PORT [--workspace DIR] [--deno PATH]`: it reads nothing from the environment.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { formatSSEErrorEvent, formatSSEEvent, Role, SSE_HEADERS, TaskState } from "@a2a-js/sdk";
import { parseLegacyAgentCard } from "@a2a-js/sdk/compat/v0_3/client";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import {
  AgentEvent,
  type AgentExecutor,
  DefaultRequestHandler,
  defaultServerCallContextBuilder,
  type ExecutionEventBus,
  InMemoryTaskStore,
} from "@a2a-js/sdk/server";
// Provided by the bundler: the standalone validators of this card's skill schemas.
import { input as validInput, output as validOutput } from "pallet:skill-validators";

/** Where the agent is told it runs: its arguments. */
export interface AgentSettings {
  /** The directory the agent is handed to work in: the test agent's projects are below it. */
  workspace?: string;
  /** The Deno executable, for an agent that runs tests. */
  deno?: string;
}

export type Skill = (input: Record<string, unknown>, settings: AgentSettings) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** Input refused: the answer says why, as a rejected task. */
export class Refused extends Error {}

interface Validator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

const problems = (validate: Validator) => (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? "is invalid"}`).join("; ");

const textPart = (text: string) => ({ content: { $case: "text" as const, value: text }, metadata: undefined, filename: "", mediaType: "text/plain" });

/**
 * The skill's input from a message: its first data part; else its text, as JSON when it is an
 * object, or as the skill's first required field (requirements, instructions, project_path).
 */
function inputOf(parts: { content?: { $case: string; value: unknown } }[], required: string): unknown {
  const data = parts.find((part) => part.content?.$case === "data");
  if (data) return data.content!.value;
  const text = parts.filter((part) => part.content?.$case === "text").map((part) => part.content!.value).join("\n");
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch {
    // plain text
  }
  return { [required]: text };
}

function executor(skill: Skill, required: string, settings: AgentSettings): AgentExecutor {
  return {
    async execute(context, bus: ExecutionEventBus) {
      const { taskId, contextId } = context;
      const status = (state: TaskState, text?: string) => ({
        state,
        timestamp: new Date().toISOString(),
        message: text === undefined ? undefined : {
          messageId: crypto.randomUUID(),
          contextId,
          taskId,
          role: Role.ROLE_AGENT,
          parts: [textPart(text)],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        },
      });
      const update = (state: TaskState, text?: string) =>
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(state, text), metadata: undefined }));
      bus.publish(AgentEvent.task({
        id: taskId,
        contextId,
        status: status(TaskState.TASK_STATE_SUBMITTED),
        artifacts: [],
        history: [context.userMessage],
        metadata: undefined,
      }));
      const input = inputOf(context.userMessage.parts, required);
      if (!validInput(input)) {
        update(TaskState.TASK_STATE_REJECTED, `input does not match the skill's input_schema: ${problems(validInput)}`);
      } else {
        update(TaskState.TASK_STATE_WORKING, "working");
        try {
          const output = await skill(input as Record<string, unknown>, settings);
          if (!validOutput(output)) throw new Error(`this agent's own output does not match its output_schema: ${problems(validOutput)}`);
          bus.publish(AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact: {
              artifactId: "result",
              name: "result",
              description: "",
              parts: [{ content: { $case: "data", value: output }, metadata: undefined, filename: "", mediaType: "application/json" }],
              metadata: undefined,
              extensions: [],
            },
            append: false,
            lastChunk: true,
            metadata: undefined,
          }));
          update(TaskState.TASK_STATE_COMPLETED);
        } catch (error) {
          update(error instanceof Refused ? TaskState.TASK_STATE_REJECTED : TaskState.TASK_STATE_FAILED, (error as Error).message);
        }
      }
      bus.finished();
    },
    async cancelTask() {},
  };
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += chunk;
  return body;
}

/** Answers one JSON-RPC request: one JSON envelope, or a stream of them as server-sent events. */
async function answer(handler: LegacyJsonRpcTransportHandler, request: IncomingMessage, response: ServerResponse) {
  const context = defaultServerCallContextBuilder({ extensions: undefined, user: undefined, headers: request.headers });
  const result = await handler.handle(await bodyOf(request), context);
  if (!(Symbol.asyncIterator in result)) {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
    return;
  }
  response.writeHead(200, SSE_HEADERS);
  try {
    for await (const event of result) response.write(formatSSEEvent(event));
  } catch (error) {
    response.write(formatSSEErrorEvent({ jsonrpc: "2.0", id: null, error: LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(error) }));
  }
  response.end();
}

/** Serves the card and `skill`, the one skill the card lists, on 127.0.0.1 at the given port. */
export function serveAgent(skillId: string, skill: Skill) {
  const { values } = parseArgs({ options: { card: { type: "string" }, port: { type: "string" }, workspace: { type: "string" }, deno: { type: "string" } } });
  if (!values.card || !values.port) throw new Error("usage: agent.js --card FILE --port PORT [--workspace DIR] [--deno PATH]");
  const cardBytes = readFileSync(values.card);
  const card = JSON.parse(cardBytes.toString("utf8"));
  const skills = card.skills ?? [];
  if (skills.length !== 1 || skills[0].id !== skillId) throw new Error(`this agent implements the skill ${skillId}; its card lists ${skills.map((s: { id: string }) => s.id).join(", ")}`);
  const required = skills[0].input_schema?.required?.[0] ?? "input";
  const handler = new LegacyJsonRpcTransportHandler(
    new DefaultRequestHandler(parseLegacyAgentCard(card), new InMemoryTaskStore(), executor(skill, required, values)),
  );
  const rpcPath = new URL(card.url).pathname;
  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/.well-known/agent-card.json") {
      response.writeHead(200, { "content-type": "application/json" }).end(cardBytes);
    } else if (request.method === "POST" && request.url === rpcPath) {
      answer(handler, request, response).catch((error) => response.destroy(error));
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  server.listen(Number(values.port), "127.0.0.1", () => console.log(`${card.name} ${card.version} serves ${skillId} at http://127.0.0.1:${values.port}${rpcPath}`));
}
