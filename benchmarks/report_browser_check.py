"""Open a run's report.html in headless Chromium: no console errors, every chart drawn, a picture.

Needs Debian's ``chromium`` (``apt-get install chromium``). Run from the repository root:

    python benchmarks/report_browser_check.py RUN_DIR [--screenshot report.png]

With no RUN_DIR it first runs ``automl-rec fit`` on MovieLens 100K (``--time-budget 5m``) into a
temporary folder. It prints the JavaScript console errors (there should be none), the number of
charts in the page after scripts ran and how many of them hold drawn marks, and the path of a
full-page screenshot.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *arguments],
                          capture_output=True, text=True, timeout=180)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path)
    parser.add_argument("--screenshot", type=Path, default=Path("report.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "run"
            subprocess.run([sys.executable, "-m", "automl_rec.cli", "fit", str(DEFAULT_DATA),
                            "--time-budget", "5m", "-o", str(run), "--quiet"], check=True)
        page = (run / "report.html").resolve().as_uri()
        logged = chromium(Path(scratch) / "a", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=5000", "--dump-dom", page)
        errors = [line for line in logged.stderr.splitlines()
                  if "CONSOLE" in line and ("Error" in line or "error" in line)]
        dom = logged.stdout
        charts = re.findall(r"<svg class=\"chart\".*?</svg>", dom, flags=re.S)
        drawn = [c for c in charts if re.search(r"<(polyline|circle|rect)[^>]*>", c)]
        shot = chromium(Path(scratch) / "b", "--window-size=1280,5200",
                        f"--screenshot={args.screenshot.resolve()}", page)
    print(f"report: {page}")
    print(f"console errors: {len(errors)}")
    for line in errors:
        print(f"  {line}")
    print(f"charts in the page: {len(charts)}, drawn: {len(drawn)}")
    print(f"sortable table rows: {dom.count('<tr class=')}")
    print(f"screenshot: {args.screenshot} ({'written' if shot.returncode == 0 else 'failed'})")
    return 0 if not errors and charts and len(drawn) == len(charts) else 1


if __name__ == "__main__":
    sys.exit(main())
