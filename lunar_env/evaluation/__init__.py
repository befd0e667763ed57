"""The evaluation protocol: which scenarios a suite flies and how (``suite``), the report and its
schema (``report``, ``bench_schema.json``), its statistics (``stats``) and the same flights as
Ray tasks (``ray_backend``). Policies come in as objects or as functions ``batch -> Policy``;
loading one by name is ``agents.bench_runner``'s job. docs/benchmark.md fixes the protocol."""
