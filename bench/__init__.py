"""nethook's benchmarks: restore speed, hook cost, outage window and memory.

Run them with ``make bench`` (``bench/run.py``). Every figure is compared with a baseline
measured in the same run, on the same namespace, by the same process.
"""
