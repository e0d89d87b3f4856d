"""The bridge's performance benchmark: `python -m bench.run` prints a table and writes bench/out/latest.json.

Every figure is put side by side with a floor or an ideal measured in the same run, because the
machines it runs on are shared and noisy: ratios travel, absolute milliseconds do not.
"""
