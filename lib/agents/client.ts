// Talking to an agent with the official A2A SDK's own client, as any A2A client would: the card
// from /.well-known/agent-card.json, read through the SDK's v0.3 compatibility layer, then JSON-RPC
// message/send (or message/stream) with the skill's input as a data part.
import { type Message, Role, type SendMessageRequest, type Task, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { parseLegacyAgentCard } from "@a2a-js/sdk/compat/v0_3/client";

const factory = () =>
  new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory({ legacyCompat: { enabled: true } })],
  }));

/**
 * An SDK client of the agent serving at `base`, and the card it serves (with the skill schemas
 * the SDK's card type leaves out). The card names the address the agent was published for; an
 * agent run on another port (make run PORT=…) is reached at `base` instead.
 */
export async function agentClient(base: string): Promise<{ client: Client; card: Record<string, unknown> }> {
  const response = await fetch(new URL("/.well-known/agent-card.json", base));
  if (!response.ok) throw new Error(`${base} answered ${response.status} for its card`);
  const card = await response.json();
  const parsed = parseLegacyAgentCard(card);
  for (const entry of parsed.supportedInterfaces) entry.url = new URL(new URL(entry.url).pathname, base).href;
  return { client: await factory().createFromAgentCard(parsed), card };
}

/** message/send's parameters: `input` as one data part. */
export const dataMessage = (input: unknown): SendMessageRequest => ({
  tenant: "",
  message: {
    messageId: crypto.randomUUID(),
    contextId: "",
    taskId: "",
    role: Role.ROLE_USER,
    parts: [{ content: { $case: "data", value: input }, metadata: undefined, filename: "", mediaType: "application/json" }],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  },
  configuration: undefined,
  metadata: undefined,
});

/** A task's outcome: its final state's name, the data of its result artifact, and what its status says. */
export function outcome(result: Task | Message): { state: string; output?: Record<string, unknown>; says?: string } {
  if (!("status" in result)) return { state: "message", says: result.parts.map((part) => String(part.content?.value ?? "")).join(" ") };
  const data = result.artifacts.flatMap((artifact) => artifact.parts).find((part) => part.content?.$case === "data");
  const text = result.status?.message?.parts.find((part) => part.content?.$case === "text")?.content?.value;
  return {
    state: TaskState[result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED].replace("TASK_STATE_", "").toLowerCase(),
    output: data?.content?.value as Record<string, unknown> | undefined,
    says: text === undefined ? undefined : String(text),
  };
}
