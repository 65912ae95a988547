#!/usr/bin/env python3
"""Executes a notebook's code cells in order, headless, without Jupyter: what the test suite
uses to prove the notebooks run against a demo warehouse.

usage: VIGIL_WAREHOUSE=W VIGIL_NOTEBOOK_OUT=DIR python3 notebooks/run_headless.py NOTEBOOK.ipynb
"""
import json
import sys

notebook = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for i, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    try:
        exec(compile(source, f"{sys.argv[1]}:cell{i + 1}", "exec"), namespace)
    except Exception:
        print(f"cell {i + 1} failed", file=sys.stderr)
        raise
