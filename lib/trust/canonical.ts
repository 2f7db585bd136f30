// The bytes a card's signatures sign. A2A 1.0 §8.4.1: the card without `signatures`, its fields
// that proto3 gives no presence omitted where they hold their default, in RFC 8785 (JCS) form.
// Signers in the field use other forms too (A2A issues #2249 and #2122; a2a-js #627 and #663), so
// a verifier also tries those, and says which one a signature was made in.
import canonicalize from "canonicalize";
import { isObject } from "../oci/json.ts";

/** The forms a card is signed in: ours first, the one we sign in. */
export const VARIANTS = ["a2a-1.0", "jcs", "a2a-js"] as const;
export type Variant = typeof VARIANTS[number];

/** Each form in a few words, for reports. */
export const VARIANT_NAMES: Record<Variant, string> = {
  "a2a-1.0": "the A2A 1.0 form (§8.4.1)",
  jcs: "plain RFC 8785, no default omitted",
  "a2a-js": "@a2a-js/sdk's form (its protobuf types, then every empty value dropped)",
};

/**
 * The messages of an A2A 1.0 card (a2a.proto), each with its `omittable` fields: those neither
 * REQUIRED nor `optional` that hold a string, bool, list or map, and so are omitted while they hold
 * the default. Every other field is kept as written, and so is every field a2a.proto does not know
 * (a 0.3 card's `url`, a skill's `input_schema`): the signature covers all the card shows.
 * `nested` names the fields that hold messages, or lists or `maps` of them.
 */
const MESSAGES: Record<string, { omittable?: string[]; nested?: Record<string, string>; maps?: string[] }> = {
  AgentCard: {
    omittable: ["securitySchemes", "securityRequirements"],
    nested: {
      supportedInterfaces: "AgentInterface",
      capabilities: "AgentCapabilities",
      securitySchemes: "SecurityScheme",
      securityRequirements: "SecurityRequirement",
      skills: "AgentSkill",
    },
    maps: ["securitySchemes"],
  },
  AgentInterface: { omittable: ["tenant"] },
  AgentCapabilities: { omittable: ["extensions"], nested: { extensions: "AgentExtension" } },
  AgentExtension: { omittable: ["uri", "description", "required"] },
  AgentSkill: { omittable: ["examples", "inputModes", "outputModes", "securityRequirements"], nested: { securityRequirements: "SecurityRequirement" } },
  SecurityRequirement: { omittable: ["schemes"], nested: { schemes: "StringList" }, maps: ["schemes"] },
  StringList: { omittable: ["list"] },
  SecurityScheme: {
    nested: {
      apiKeySecurityScheme: "APIKeySecurityScheme",
      httpAuthSecurityScheme: "HTTPAuthSecurityScheme",
      oauth2SecurityScheme: "OAuth2SecurityScheme",
      openIdConnectSecurityScheme: "OpenIdConnectSecurityScheme",
      mtlsSecurityScheme: "MutualTlsSecurityScheme",
    },
  },
  APIKeySecurityScheme: { omittable: ["description"] },
  HTTPAuthSecurityScheme: { omittable: ["description", "bearerFormat"] },
  OAuth2SecurityScheme: { omittable: ["description", "oauth2MetadataUrl"], nested: { flows: "OAuthFlows" } },
  OpenIdConnectSecurityScheme: { omittable: ["description"] },
  MutualTlsSecurityScheme: { omittable: ["description"] },
  OAuthFlows: {
    nested: {
      authorizationCode: "AuthorizationCodeOAuthFlow",
      clientCredentials: "ClientCredentialsOAuthFlow",
      implicit: "ImplicitOAuthFlow",
      password: "PasswordOAuthFlow",
      deviceCode: "DeviceCodeOAuthFlow",
    },
  },
  AuthorizationCodeOAuthFlow: { omittable: ["refreshUrl", "pkceRequired"] },
  ClientCredentialsOAuthFlow: { omittable: ["refreshUrl"] },
  ImplicitOAuthFlow: { omittable: ["authorizationUrl", "refreshUrl", "scopes"] },
  PasswordOAuthFlow: { omittable: ["tokenUrl", "refreshUrl", "scopes"] },
  DeviceCodeOAuthFlow: { omittable: ["refreshUrl"] },
};

/** A proto3 default as JSON writes it: nothing a signature needs to cover. */
const isDefault = (value: unknown) =>
  value === "" || value === false || value === 0 || value === null ||
  (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0);

/** `value`, a `message`, with its omittable fields that hold their default left out, all the way down. */
function presenceForm(value: unknown, message: string): unknown {
  if (!isObject(value)) return value;
  const { omittable = [], nested = {}, maps = [] } = MESSAGES[message];
  const kept: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(value)) {
    if (omittable.includes(field) && isDefault(inner)) continue;
    const type = nested[field];
    kept[field] = !type
      ? inner
      : Array.isArray(inner)
      ? inner.map((item) => presenceForm(item, type))
      : maps.includes(field) && isObject(inner)
      ? Object.fromEntries(Object.entries(inner).map(([key, item]) => [key, presenceForm(item, type)]))
      : presenceForm(inner, type);
  }
  return kept;
}

/** What a JSON document's signatures sign when no card form applies: RFC 8785 of it without `signatures`. */
export function documentPayload(document: Record<string, unknown>): string {
  const { signatures: _, ...signed } = document;
  return canonicalize(signed)!;
}

const escapePointer = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/** JSON pointers to what `card` holds beyond its defaults and `covered` lacks: what a signature over `covered` leaves open. */
function uncovered(card: unknown, covered: unknown, pointer = ""): string[] {
  if (Array.isArray(card)) return card.flatMap((item, i) => uncovered(item, Array.isArray(covered) ? covered[i] : undefined, `${pointer}/${i}`));
  if (!isObject(card)) return [];
  return Object.entries(card).flatMap(([key, value]) => {
    const at = `${pointer}/${escapePointer(key)}`;
    if (isObject(covered) && Object.hasOwn(covered, key)) return uncovered(value, covered[key], at);
    return isDefault(value) ? [] : [at];
  });
}

/**
 * The payload a signature in `variant` signs, and the JSON pointers of what the card holds that
 * this payload does not cover (only @a2a-js/sdk's form drops anything: fields its protobuf types lack).
 */
export async function cardPayload(card: Record<string, unknown>, variant: Variant): Promise<{ payload: string; unsigned: string[] }> {
  if (variant === "jcs") return { payload: documentPayload(card), unsigned: [] };
  const { signatures: _, ...unsigned } = card;
  if (variant === "a2a-1.0") return { payload: canonicalize(presenceForm(unsigned, "AgentCard"))!, unsigned: [] };
  // Loaded when a signature is not in either form above: the SDK costs about 80 ms to load under Node.
  const { canonicalizeAgentCard } = await import("@a2a-js/sdk");
  const payload = canonicalizeAgentCard(unsigned as never);
  return { payload, unsigned: uncovered(unsigned, JSON.parse(payload)) };
}
