import { OciError } from "./errors.ts";
import { DIGEST_PATTERN } from "./digest.ts";

/** `registry/repository[:tag][@digest]`, the form `oras` takes. The registry is never implied. */
export interface Reference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

// The grammar of the OCI distribution spec (and docker/distribution's reference package).
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
export const REPOSITORY_PATTERN = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
export const PATH_COMPONENT_PATTERN = new RegExp(`^${PATH_COMPONENT}$`);
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST_PATTERN =
  /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*)(?::[0-9]{1,5})?$/;
const MAX_REPOSITORY_LENGTH = 255;

export function isValidRegistry(registry: string): boolean {
  if (!HOST_PATTERN.test(registry)) return false;
  const port = registry.match(/:([0-9]+)$/)?.[1];
  return port === undefined || registry.endsWith("]") || (Number(port) > 0 && Number(port) < 65536);
}

/** `user:password@` or `user@` before the host, after an optional `scheme://`. */
const USERINFO = /^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)[^/@\s]+@(?=[^/@\s]*(?:\/|$))/;

/** Whether `text` starts with a host that carries a password (`user:password@host`, `https://user:password@host`). */
export const carriesPassword = (text: string): boolean => USERINFO.exec(text)?.[0].slice(0, -1).replace(/^[^:]*:\/\//, "").includes(":") ?? false;

/** `text` as it may be shown: any user-info before the host replaced by `***@`. */
export const withoutUserinfo = (text: string): string => text.replace(USERINFO, "$1***@");

export function parseReference(text: string): Reference {
  const shown = withoutUserinfo(text);
  const problem = (why: string) => new OciError("invalid-reference", `invalid reference "${shown}": ${why}`, { subject: shown });
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_PATTERN.test(digest)) throw problem(`"${digest}" is not a sha256 digest`);
  }
  const slash = rest.indexOf("/");
  if (slash < 0) throw problem("it names no repository after the registry");
  const registry = rest.slice(0, slash);
  let repository = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(":");
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!TAG_PATTERN.test(tag)) {
      throw problem(`tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
    }
  }
  if (!isValidRegistry(registry)) throw problem(`"${registry}" is not a registry host[:port]`);
  if (!REPOSITORY_PATTERN.test(repository) || repository.length > MAX_REPOSITORY_LENGTH) {
    throw problem(
      `repository "${repository}" must be lowercase path components ([a-z0-9] separated by ".", "_", "__" or "-"), joined by "/"`,
    );
  }
  return { registry, repository, tag, digest };
}

export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** What a manifest request names: the digest when there is one, since it pins the content. */
export function manifestReference(ref: Reference): string {
  const reference = ref.digest ?? ref.tag;
  if (!reference) {
    throw new OciError("invalid-reference", `${formatReference(ref)} names no tag or digest`, { subject: formatReference(ref) });
  }
  return reference;
}

/** The host of "host:port", "[::1]:port" or "host", without the port and brackets. */
export const hostOf = (registry: string): string => registry.replace(/:[0-9]+$/, "").replace(/^\[|\]$/g, "");

export function isLoopbackHost(registry: string): boolean {
  const host = hostOf(registry);
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The plain-HTTP rule of this client: as asked; unasked, to this machine only (localhost, 127.0.0.0/8, ::1). */
export const usesPlainHttp = (registry: string, asked?: boolean): boolean => asked ?? isLoopbackHost(registry);
