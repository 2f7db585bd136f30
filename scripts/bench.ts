// `make bench` starts here; the benchmark and its baselines live in bench/ (settings: --help).
import "../bench/bench.ts";

// Discovery at fleet scale follows, unless the benchmark failed or only its help was asked for.
if (!process.exitCode && process.argv.length <= 2) await import("../bench/discovery.ts");
