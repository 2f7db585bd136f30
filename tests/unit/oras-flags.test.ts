// The oras command line as the built-in client reads it: pflag's syntax, oras 1.3's flags (each
// taken or refused by name), and ARGS split into words without a shell.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { type Command, type FlagSpec, flagsOf, parseFlags } from "../../lib/oras/command.ts";
import { COMMANDS } from "../../lib/oras/main.ts";
import { splitWords } from "../../lib/oras/words.ts";

/** The message of the UsageError `run` throws. */
function refusal(run: () => unknown): string {
  let message = "";
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    message = error.message;
    return true;
  });
  return message;
}

const SPEC: FlagSpec = {
  output: { type: "string", short: "o", help: "" },
  annotation: { type: "string", short: "a", multiple: true, help: "" },
  pretty: { type: "boolean", help: "" },
  "full-reference": { type: "boolean", short: "l", help: "" },
  quiet: { type: "boolean", short: "q", help: "" },
};

describe("parseFlags reads argv as oras's flag library does", () => {
  it("takes flags anywhere, in every spelling pflag takes", () => {
    const { flags, args } = parseFlags("x", ["a", "--output", "d1", "b", "-a", "k=v", "--annotation=k2=v=2", "-lq", "--pretty=false", "c"], SPEC);
    assert.deepEqual(args, ["a", "b", "c"]);
    assert.deepEqual(flags, { output: "d1", annotation: ["k=v", "k2=v=2"], "full-reference": true, quiet: true, pretty: false });
    assert.equal(parseFlags("x", ["-odir"], SPEC).flags.output, "dir");
    assert.equal(parseFlags("x", ["-o=dir"], SPEC).flags.output, "dir");
    assert.equal(parseFlags("x", ["-lo", "dir"], SPEC).flags.output, "dir");
    assert.equal(parseFlags("x", ["--output", "--pretty"], SPEC).flags.output, "--pretty", "a string flag takes the next word, whatever it is");
    assert.equal(parseFlags("x", ["--output", "a", "--output", "b"], SPEC).flags.output, "b", "the last one wins");
  });

  it("stops reading flags at --, and takes - as an argument", () => {
    assert.deepEqual(parseFlags("x", ["--pretty", "--", "--output", "-"], SPEC), { flags: { pretty: true }, args: ["--output", "-"] });
    assert.deepEqual(parseFlags("x", ["-"], SPEC).args, ["-"]);
  });

  it("refuses what pflag refuses, naming the flag", () => {
    assert.equal(refusal(() => parseFlags("push", ["--colour"], SPEC)), "unknown flag: --colour");
    assert.equal(refusal(() => parseFlags("push", ["-x"], SPEC)), "unknown shorthand flag: 'x' in -x");
    assert.equal(refusal(() => parseFlags("push", ["--output"], SPEC)), "flag needs an argument: --output");
    assert.equal(refusal(() => parseFlags("push", ["-o"], SPEC)), "flag needs an argument: 'o' in -o");
    assert.match(refusal(() => parseFlags("push", ["--pretty=maybe"], SPEC)), /^invalid argument "maybe" for "--pretty" flag/);
  });

  it("names oras's flags it does not implement as such, short forms and prefixed twins too", () => {
    assert.equal(refusal(() => parseFlags("pull", ["--keep-old-files"], SPEC)), "--keep-old-files is an oras flag this client does not support");
    assert.equal(refusal(() => parseFlags("cp", ["--from-oci-layout"], SPEC)), "--from-oci-layout is an oras flag this client does not support");
    assert.equal(refusal(() => parseFlags("push", ["-v"], SPEC)), "-v (--verbose) is an oras flag this client does not support");
  });
});

/**
 * Every flag oras 1.3.3 defines for each command (cmd/oras/root/<command>.go and the
 * cmd/oras/internal/option structs it embeds), with its short form.
 */
const REMOTE = ["username:u", "password:p", "identity-token", "insecure", "plain-http", "ca-file", "cert-file", "key-file", "resolve", "registry-config", "header:H"];
const TARGET = [...REMOTE, "password-stdin", "identity-token-stdin", "oci-layout", "oci-layout-path"];
const side = (prefix: string) => [...REMOTE, "oci-layout", "oci-layout-path", "distribution-spec"].map((flag) => `${prefix}-${flag.split(":")[0]}`);
const ORAS_FLAGS: Record<string, string[]> = {
  push: [...TARGET, "debug:d", "no-tty", "annotation:a", "export-manifest", "annotation-file", "disable-path-validation", "artifact-platform", "image-spec", "format", "template", "config", "artifact-type", "concurrency", "verbose:v"],
  pull: [...TARGET, "debug:d", "no-tty", "platform", "format", "template", "concurrency", "keep-old-files", "include-subject", "allow-path-traversal", "output:o", "config", "verbose:v"],
  attach: [...TARGET, "debug:d", "no-tty", "annotation:a", "export-manifest", "annotation-file", "disable-path-validation", "platform", "format", "template", "artifact-type", "config", "concurrency", "verbose:v", "distribution-spec"],
  discover: [...TARGET, "debug:d", "no-tty", "platform", "format", "template", "artifact-type", "output:o", "verbose:v", "depth", "distribution-spec"],
  resolve: [...TARGET, "debug:d", "platform", "full-reference:l"],
  cp: [...side("from"), ...side("to"), "resolve", "debug:d", "no-tty", "platform", "recursive:r", "concurrency", "verbose:v"],
  tag: [...TARGET, "debug:d", "concurrency", "verbose:v"],
  "repo ls": [...REMOTE, "password-stdin", "identity-token-stdin", "debug:d", "format", "template", "last", "verbose:v"],
  "repo tags": [...TARGET, "debug:d", "format", "template", "last", "exclude-digest-tags", "verbose:v"],
  "manifest fetch": [...TARGET, "debug:d", "descriptor", "platform", "pretty", "format", "template", "media-type", "output:o", "verbose:v"],
};

function command(name: string): Promise<Command> {
  const [first, second] = name.split(" ");
  const entry = COMMANDS[first];
  return typeof entry === "function" ? entry() : entry[second]();
}

describe("the oras commands", () => {
  for (const [name, flags] of Object.entries(ORAS_FLAGS)) {
    it(`oras ${name}: take each of oras's flags, or refuse it by name`, async () => {
      const spec = flagsOf(await command(name));
      for (const flag of flags) {
        const [long, short] = flag.split(":");
        for (const spelling of short ? [`--${long}`, `-${short}`] : [`--${long}`]) {
          let message: string | undefined;
          try {
            parseFlags(name, [spelling, "value"], spec);
          } catch (error) {
            message = (error as Error).message;
          }
          if (message !== undefined) assert.match(message, /is an oras flag this client does not support$/, `${name} ${spelling}`);
          else assert.ok(spec[long] && (!short || spec[long].short === short), `${name} ${spelling} was taken, but as something else`);
        }
      }
      for (const taken of Object.keys(spec)) assert.ok(flags.some((flag) => flag.split(":")[0] === taken), `${name} takes --${taken}, which oras does not have`);
    });
  }
});

describe("splitWords splits ARGS as a shell would, expanding nothing", () => {
  it("keeps quoted text together and takes $, backquotes and globs literally", () => {
    assert.deepEqual(splitWords(`push  -a 'k=a b' "x\\"y" a\\ b $(touch x) \`id\` *.json ''`), ["push", "-a", "k=a b", 'x"y', "a b", "$(touch", "x)", "`id`", "*.json", ""]);
    assert.deepEqual(splitWords("   "), []);
    assert.deepEqual(splitWords(`"a'b" 'c"d' "\\$HOME\\n"`), ["a'b", 'c"d', "$HOME\\n"]);
  });

  it("refuses an unterminated quote", () => {
    assert.match(refusal(() => splitWords("repo ls 'localhost:5000")), /^unterminated ' quote/);
  });
});
