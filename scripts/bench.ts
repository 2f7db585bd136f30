// `make bench` starts here; the benchmark and its baselines live in bench/ (settings: --help).
import "../bench/bench.ts";
