"""Issue 15's robustness campaign: tools that attack a real `alphacdn serve` on loopback.

Each tool is one command run from the repository root, starts its own server on 127.0.0.1 with
temp-dir settings (`tests/e2e/server.Server`), bounds every loop in count and time and ends with
a summary. Figures and how to read them: `bench/README_robustness.md`.

    python -m bench.robust.fuzz      --count 10000      # URL fuzzer
    python -m bench.robust.badfiles  [--out DIR]        # bad-file corpus → upload, w_200, remove.bg
    python -m bench.robust.cost                         # cost probe (CPU-s, peak RSS per URL)
    python -m bench.robust.faults    --rounds 5         # kill -9 fault runner (2 workers)
    python -m bench.robust.mixed     --seconds 120      # mixed load with and without hostiles
"""
