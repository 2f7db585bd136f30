// The one place that turns registry settings (address, TLS, credentials, plain HTTP) into a
// Registry. Every layer above receives the clients it uses from here.
import { Authenticator } from "./auth.ts";
import { type Credential, credentialLookup } from "./credentials.ts";
import { hostOf, usesPlainHttp } from "./reference.ts";
import { Registry } from "./registry.ts";
import { createTransport } from "./transport.ts";

/** How to reach one registry and as whom. */
export interface ClientSettings {
  /** As asked; unset: plain HTTP to loopback addresses, HTTPS elsewhere (usesPlainHttp). */
  plainHttp?: boolean;
  /** A PEM file of CAs to trust besides the system's. */
  caFile?: string;
  /** No certificate verification. */
  insecure?: boolean;
  /** Given explicitly; else the Docker config's is used. */
  credential?: Credential;
}

/** The same as `host`, or as another spelling of it: `localhost:5000` and `LOCALHOST:5000`. */
const keyOf = (host: string, settings: ClientSettings) =>
  JSON.stringify([
    hostOf(host) === host ? host : host.toLowerCase(),
    usesPlainHttp(host, settings.plainHttp),
    settings.caFile,
    Boolean(settings.insecure),
    settings.credential?.username,
    settings.credential?.password,
  ]);

/**
 * The clients of one run: one Registry per host and settings, so that the commands of a step
 * share connections, tokens and what they learnt about blobs. Keyed by what is meant, not how
 * it was said (plain HTTP left unsaid or said, --insecure=false).
 */
export class Clients {
  private readonly made = new Map<string, Registry>();

  constructor(private readonly timeoutMs: number) {}

  /** The Registry for `host` reached as `settings` say; `made` is told when it is new. */
  for(host: string, settings: ClientSettings = {}, made?: () => void): Registry {
    const key = keyOf(host, settings);
    let registry = this.made.get(key);
    if (!registry) {
      made?.();
      const { caFile, insecure, credential } = settings;
      const transport = createTransport({ plainHttp: usesPlainHttp(host, settings.plainHttp), caFile, insecure, timeoutMs: this.timeoutMs });
      const credentials = credentialLookup({ explicit: credential && { [host]: credential } });
      registry = new Registry(host, { transport, authorizer: new Authenticator({ fetch: transport.fetch, credentials }) });
      this.made.set(key, registry);
    }
    return registry;
  }
}
