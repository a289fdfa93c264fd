"""Screenshots of scalefit reports in headless Chromium, cut into page-sized PNG tiles for review.

    SCALEFIT_DATA_MIRROR=/path/to/datasets python docs/screenshot_report.py OUT_DIR [--chromium PATH]

Writes two reports (the bundled example sweep and Epoch AI's Chinchilla reconstruction, the registry's
``chinchilla_epoch``) with the ``scalefit`` command, screenshots each ``report.html`` at 1280 px wide with a
window tall enough for the whole page, and cuts every screenshot into tiles of ``--tile`` px
(``OUT_DIR/<name>/shot-NN.png``) small enough to look at one by one. The figures the report embeds are in
``OUT_DIR/<name>/report/figures/``. Needs Pillow for the tiles (``pip install pillow``); nothing here is
committed output: the PNGs are for a reviewer's eyes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPORTS = {
    "example": ["fit", "--target", "N=70B,D=1.4T", "--compute", "1e24", "--reference", "Chinchilla:N=70B,D=1.4T"],
    "epoch_chinchilla": ["fit", "chinchilla_epoch", "--target", "N=70B,D=1.4T", "--compute", "5.76e23",
                         "--reference", "Chinchilla:N=70B,D=1.4T"],
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
WIDTH = 1280
HEIGHT = 20000  # px; doubled until the page ends above the bottom of the window


def screenshot(chromium: str, html: Path, png: Path, height: int = HEIGHT) -> None:
    """One screenshot of the page at WIDTH x ``height`` px; taller again while the page reaches its bottom."""
    from PIL import Image

    while True:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                            f"--window-size={WIDTH},{height}", f"--screenshot={png}", html.resolve().as_uri()],
                           check=True, capture_output=True, timeout=300)
        image = Image.open(png).convert("L")
        if image.crop((0, height - 200, WIDTH, height)).getextrema()[0] == 255 or height >= 64000:
            return  # the last 200 px are blank: the whole page is in the picture
        height *= 2


def tiles(png: Path, out_dir: Path, tile: int) -> list[Path]:
    """Cut a tall screenshot into tiles of ``tile`` px, dropping the blank page bottom."""
    from PIL import Image, ImageChops

    image = Image.open(png).convert("RGB")
    blank = Image.new("RGB", image.size, (255, 255, 255))
    box = ImageChops.difference(image, blank).getbbox()
    bottom = min(image.height, (box[3] + 20) if box else image.height)
    paths = []
    for k, top in enumerate(range(0, bottom, tile)):
        path = out_dir / f"shot-{k:02d}.png"
        image.crop((0, top, WIDTH, min(top + tile, bottom))).save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory for the reports and screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--tile", type=int, default=1400, help="tile height in px (default 1400)")
    parser.add_argument("--only", choices=sorted(REPORTS), action="append", help="one report (repeatable)")
    args = parser.parse_args(argv)
    if "SCALEFIT_DATA_MIRROR" not in os.environ:
        print("note: SCALEFIT_DATA_MIRROR is not set; the Epoch report needs the dataset mirror", file=sys.stderr)
    for name in args.only or REPORTS:
        where = args.out / name
        where.mkdir(parents=True, exist_ok=True)
        report = where / "report"
        subprocess.run([sys.executable, "-m", "scalefit", *REPORTS[name], "--out", str(report), "--force",
                        "--quiet"], check=True)
        html = report / "report.html"
        full = where / "full.png"
        screenshot(args.chromium, html, full)
        for path in tiles(full, where, args.tile):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
