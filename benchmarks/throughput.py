"""Environment throughput beside Gymnasium's and EnvPool's LunarLander, measured in one run.

    python benchmarks/throughput.py [--seconds 3] [--json benchmarks/results/throughput.json]

The same measurement is ``lunar throughput``; install the references with
``pip install -e ".[compare]"`` (Gymnasium's Box2D LunarLander and EnvPool).
"""

import sys

from training.commands.main import main

if __name__ == "__main__":
    sys.exit(main(["throughput", *sys.argv[1:]]))
