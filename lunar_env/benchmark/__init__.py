"""Evaluation and performance measurement: the benchmark suite and the throughput benchmark."""
