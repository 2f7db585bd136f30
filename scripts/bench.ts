// `make bench` starts here; the benchmark, its parts and its baselines live in bench/ (settings: --help).
import "../bench/bench.ts";
