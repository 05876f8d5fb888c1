"""What every benchmark does with its results: its own section of bench/RESULTS.md, headed alike."""

from __future__ import annotations

import os
import platform
import re
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(title: str, command: str, seconds: float, body: str, machine_note: str = "") -> None:
    """Replace the section "# title" where it stands in RESULTS.md (or add it at the end), leaving
    every other section, the hand-written ones included, as it is."""
    machine = f"{len(os.sched_getaffinity(0))} CPUs (nproc), Python {platform.python_version()}"
    section = (
        f"# {title}\n\nDate: {datetime.now():%Y-%m-%d %H:%M}  \n"
        f"Machine: {machine}, {platform.platform()}{machine_note}  \n"
        f"Command: `{command}` (from the repository root)  \nTotal run time: {seconds:.0f} s\n{body}"
    ).rstrip() + "\n\n"
    old = RESULTS.read_text() if RESULTS.exists() else ""
    found = re.search(rf"(?ms)^# {re.escape(title)}\n.*?(?=^# |\Z)", old)
    new = old[: found.start()] + section + old[found.end() :] if found else old.rstrip() + "\n\n" + section
    RESULTS.write_text(new.strip() + "\n")
    print(f"\nwrote the {title} section of bench/RESULTS.md")
