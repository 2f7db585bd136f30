// The plan agent (create_plan): requirements in, an ordered plan out. Deterministic and offline:
// the plan follows the requirements' own clauses in their order, framed by agreeing on the scope
// first and testing last, each step depending on the one before.
import { createHash } from "node:crypto";
import { serveAgent, type Skill } from "./serve.ts";

interface PlanInput {
  requirements: string;
  context?: string;
  constraints?: string[];
  max_steps?: number;
}

const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const createPlan: Skill = (input) => {
  const { requirements, context, constraints = [], max_steps = 10 } = input as unknown as PlanInput;
  const clauses = requirements.split(/[.;:\n]+|,\s*|\s+(?:and|then)\s+/i).map((clause) => clause.trim().replace(/^(?:and|then|with)\s+/i, "")).filter(Boolean);
  if (clauses.length === 0) clauses.push(requirements.trim() || requirements);
  // Room for the scope and test steps when the plan may have three steps or more.
  const framed = max_steps >= 3;
  const room = framed ? max_steps - 2 : max_steps;
  const work = [...clauses.slice(0, room - 1), clauses.slice(room - 1).join(", ")].filter(Boolean);
  const where = context ? ` in ${context}` : "";
  const steps = [
    ...(framed ? [{ title: "Agree on the scope", description: `Confirm what "${requirements}" covers${constraints.length ? `, within: ${constraints.join("; ")}` : ""}.` }] : []),
    ...work.map((clause) => ({ title: sentence(clause), description: `${sentence(clause)}${where}; done when its tests pass.` })),
    ...(framed ? [{ title: "Test and review", description: "Run every test, review the change as a whole, and write down what is left." }] : []),
  ].map((step, i) => ({ id: `step-${i + 1}`, ...step, depends_on: i === 0 ? [] : [`step-${i}`] }));
  return {
    plan_id: `plan-${createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 12)}`,
    summary: `${steps.length} steps for: ${requirements}`,
    steps,
  };
};

serveAgent("create_plan", createPlan);
