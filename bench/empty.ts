// Nothing: `make bench` times this to know what starting the runtime alone costs.
