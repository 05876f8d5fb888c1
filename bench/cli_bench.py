"""Command line start-up: how long `newsalert --help`, `--version` and `check` of one local feed take,
wall clock, as a user waits for them.

Each command runs as a fresh process, round after round, interleaved with two baselines in the same
run: the floor, `python -c pass` (the interpreter alone), and the naive way, `python -c "import ..."` of
every module the command line used to import before any command ran (bot.app, bot.commands, bot.check,
bot.admin, bot.opml, bot.store.copy: what every command, --help too, paid before #20). The median of the
rounds is reported, and each command's ratio to both. Then `python -X importtime` of each command says
where its import time goes (the five costliest modules loaded at the top level).

Goals (issue #20): --help and --version under 0.3 s, check of one local feed under 0.8 s, on this
machine with nothing else running. The load average is printed beside the figures: on a busy machine
every figure grows, the ratios less.

Run from the repo root:  .venv/bin/python bench/cli_bench.py [--rounds N] [--quick]
The full run writes the "# Command line start-up benchmark" section of bench/RESULTS.md; --quick only
prints.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

PYTHON = sys.executable
NEWSALERT = [str(Path(PYTHON).with_name("newsalert"))] if Path(PYTHON).with_name("newsalert").exists() else [
    PYTHON, "-m", "bot",
]  # fmt: skip
FEED = "config/samples/world-news.xml"
EAGER = "import bot.app, bot.commands, bot.check, bot.admin, bot.opml, bot.store.copy, bot.channels.console"
BASELINES = {
    "floor: python -c pass": [PYTHON, "-c", "pass"],
    "naive: import all, as before": [PYTHON, "-c", EAGER],
}
COMMANDS = {
    "newsalert --help": [*NEWSALERT, "--help"],
    "newsalert --version": [*NEWSALERT, "--version"],
    "newsalert check (one local feed)": [
        *NEWSALERT,
        "check",
        "--feed",
        FEED,
        "--rule",
        "Membership Action Plan",
    ],
}
GOALS = {"newsalert --help": 0.3, "newsalert --version": 0.3, "newsalert check (one local feed)": 0.8}


def timed(command: list[str]) -> tuple[float, float]:
    """Seconds from starting the process to its exit (wall), and the CPU seconds it used (user and
    system: on a shared machine, the figure other work disturbs least); it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, env={**os.environ, "NO_COLOR": "1"})
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-500:]}")
    return took, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def import_costs(command: list[str], top: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """`python -X importtime`: the whole import time of the command (the interpreter's own start-up
    imports too), and its costliest top-level imports (cumulative, seconds)."""
    argv = command[1:] if command[0] == PYTHON else ["-m", "bot", *command[1:]]
    result = subprocess.run([PYTHON, "-X", "importtime", *argv], cwd=ROOT, capture_output=True, text=True)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # not imported by another
                rows.append((name.strip(), int(cumulative) / 1e6))
    return sum(seconds for _, seconds in rows), sorted(rows, key=lambda row: -row[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 rounds, print only")
    args = parser.parse_args()
    rounds = 5 if args.quick else args.rounds
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    every = {**BASELINES, **COMMANDS}
    times: dict[str, list[float]] = {name: [] for name in every}
    cpu: dict[str, list[float]] = {name: [] for name in every}
    for command in every.values():
        timed(command)  # warm the file cache
    for _ in range(rounds):
        for name, command in every.items():  # interleaved: a busy moment weighs on all alike
            took, used = timed(command)
            times[name].append(took)
            cpu[name].append(used)
    median = {name: statistics.median(values) for name, values in times.items()}
    floor, naive = median["floor: python -c pass"], median["naive: import all, as before"]
    load = f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"

    table = [
        "| what | median s | best s | CPU s (median) | x floor | / naive | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, values in times.items():
        goal = GOALS.get(name)
        verdict = f"< {goal} s: {'met' if median[name] < goal else 'NOT met'}" if goal else ""
        ratio = f"{median[name] / naive:.2f}" if name in COMMANDS else ""
        figures = (
            f"{median[name]:.3f} | {min(values):.3f} | {statistics.median(cpu[name]):.3f} | "
            f"{median[name] / floor:.1f}"
        )
        table.append(f"| {name} | {figures} | {ratio} | {verdict} |")
    where = ["", "Where the import time goes (`python -X importtime`, top-level imports, cumulative):", ""]
    for name, command in COMMANDS.items():
        total, top = import_costs(command)
        costs = ", ".join(f"{module} {seconds * 1000:.0f} ms" for module, seconds in top)
        where.append(f"- {name}: {total * 1000:.0f} ms in all; {costs}")
    naive_total, naive_top = import_costs(BASELINES["naive: import all, as before"])
    costs = ", ".join(f"{module} {seconds * 1000:.0f} ms" for module, seconds in naive_top)
    where.append(f"- naive (before): {naive_total * 1000:.0f} ms in all; {costs}")

    method = (
        f"\nWall clock of a fresh process each, {rounds} rounds interleaved, medians (and the best), and the "
        f"CPU time the process used; load average {load}.\n"
        "x floor: over `python -c pass`; / naive: the command's median over the eager import of every "
        "module the command line loaded before any command ran (what --help cost before #20). "
        f"Commands run as `{' '.join(NEWSALERT)} ...`, from the repository root; check reads `{FEED}`.\n"
    )
    body = method + "\n" + "\n".join(table) + "\n" + "\n".join(where) + "\n"
    print(body)
    if not args.quick:
        command = ".venv/bin/python bench/cli_bench.py" + (f" --rounds {rounds}" if rounds != 15 else "")
        write_section("Command line start-up benchmark", command, time.perf_counter() - started, body)


if __name__ == "__main__":
    main()
