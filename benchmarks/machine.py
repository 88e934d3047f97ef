"""What every benchmark result must carry: the machine, the libraries, the date, the command.

This machine is shared and noisy, so results are ratios against PyTorch measured in the same
run; the absolute numbers only say roughly how fast this particular box was that day.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

import numpy as np

RESULTS = os.path.join(os.path.dirname(__file__), "RESULTS.md")


def limit_threads(threads: int, torch: bool = True) -> None:
    """Give BLAS (through threadpoolctl) and, unless ``torch=False``, PyTorch the same number of
    threads. (``torch=False`` keeps PyTorch out of a process that measures glassnet's memory.)"""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if not torch:
        return
    try:
        import torch as torch_module
    except ImportError:
        return
    torch_module.set_num_threads(threads)


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (VmHWM). Unlike ``ru_maxrss``, which a child
    inherits from the parent it was forked from, VmHWM starts afresh with each program."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("VmHWM not found in /proc/self/status")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine(threads: int) -> str:
    """A Markdown list: CPU, cores, BLAS library and version, Python, NumPy, PyTorch, threads."""
    from threadpoolctl import threadpool_info

    blas = ", ".join(
        f"{i.get('internal_api')} {i.get('version')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return "\n".join(
        [
            f"- machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()}",
            f"- BLAS: {blas or 'unknown'} (NumPy {np.__version__}); PyTorch {torch_version}",
            f"- Python {sys.version.split()[0]}; threads per side: {threads}",
        ]
    )


def write_results(title: str, body: str, command: str) -> None:
    """Append a dated section to benchmarks/RESULTS.md."""
    today = datetime.date.today().isoformat()
    with open(RESULTS, "a") as f:
        f.write(f"\n## {title} ({today})\n\nCommand: `{command.strip()}`\n\n{body}\n")
    print(f"appended to {RESULTS}")
