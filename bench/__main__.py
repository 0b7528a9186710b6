"""``python -m bench``: run the benchmark (bench/harness.py)."""

from bench.harness import main

main()
