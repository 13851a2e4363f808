#!/usr/bin/python3
"""Reads every CSV table of a lowbit report folder with pandas, as an analysis script would,
and checks that each value is in the units the markdown table beside it prints: the CSV's
mean, rounded as the markdown cell shows it, must be the markdown cell's number.

    check_csv.py REPORT_DIR      (run by tests/reports/report_test.cpp in make test)
Exit 0 and "checked N cells in M tables", or exit 1 naming the file, row, column and values.
"""
import glob
import math
import os
import re
import sys

import pandas as pd

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def markdown_cells(path, n_keys):
    """(row key values..., column label) -> cell text, from the table in a .md file."""
    lines = [l for l in open(path, encoding="utf-8").read().splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    cells = {}
    for line in lines[2:]:
        parts = [c.strip() for c in line.strip("|").split("|")]
        keys = tuple(parts[:n_keys])
        for label, text in zip(header[n_keys:], parts[n_keys:]):
            cells[keys + (label,)] = text
    return cells


def printed_number(text):
    """The mean a markdown cell prints ("**81.76** ± 0.82 (3)" -> "81.76"); None for n/a."""
    m = NUMBER.search(text.replace("**", "").replace("$", ""))
    return m.group(0) if m and not text.startswith(("n/a", "–")) else None


def check(folder):
    tables = cells = 0
    problems = []
    for csv_path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        name = os.path.basename(csv_path)[:-4]
        df = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
        if "column" not in df.columns:
            continue  # not a table of cells (claims.csv has one row per claim)
        md_path = os.path.join(folder, name + ".md")
        if not os.path.exists(md_path):
            problems.append(f"{csv_path}: no {name}.md beside it")
            continue
        tables += 1
        for col in ("mean", "std", "n", "requested", "ci_low", "ci_high", "p_value", "p_holm"):
            bad = [v for v in df[col] if v != "" and not _is_number(v)]
            if bad:
                problems.append(f"{csv_path}: column {col} holds non-numbers {bad[:3]}")
        for col in ("incomplete", "na", "best"):
            if not set(df[col]) <= {"0", "1"}:
                problems.append(f"{csv_path}: column {col} is not 0/1: {sorted(set(df[col]))[:5]}")
        n_keys = list(df.columns).index("column")
        md = markdown_cells(md_path, n_keys)
        for _, row in df.iterrows():
            key = tuple(row.iloc[:n_keys]) + (row["column"],)
            if key not in md:
                problems.append(f"{csv_path}: row {key} is not in {name}.md")
                continue
            printed = printed_number(md[key])
            if row["mean"] == "" or printed is None:
                if (row["mean"] == "") != (printed is None):
                    problems.append(f"{csv_path}: {key}: CSV mean '{row['mean']}' but markdown '{md[key]}'")
                continue
            cells += 1
            decimals = len(printed.split(".")[1]) if "." in printed and "e" not in printed else 0
            value, shown = float(row["mean"]), float(printed)
            tolerance = 0.5 * 10 ** (-decimals) * (1 + 1e-9) if "e" not in printed else abs(shown) * 5e-3
            if abs(value - shown) > tolerance and not math.isclose(value, shown, rel_tol=5e-3):
                problems.append(f"{csv_path}: {key}: CSV mean {value} is not the markdown's {printed} "
                                f"(a unit differs between the two?)")
    for p in problems:
        print(p)
    print(f"checked {cells} cells in {tables} tables of {folder}")
    return 1 if problems or tables == 0 else 0


def _is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(check(sys.argv[1]))
