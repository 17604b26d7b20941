"""Check a rendered (and possibly moved) run dir as a user would look at it: the film decodes,
report.json has no "not found" notes, and every chained seam has a numeric score."""
import json
import sys
from pathlib import Path

run = Path(sys.argv[1])
report = json.loads((run / "report.json").read_text(encoding="utf-8"))
bad = [n for n in report.get("notes", []) if "not found" in n or "missing" in n]
if bad:
    sys.exit(f"{run}: report notes: {bad}")
chained = [s for s in report.get("seams", []) if s.get("kind") == "chained"]
if not chained:
    sys.exit(f"{run}: no chained seams in report.json")
unscored = [s for s in chained if not isinstance(s.get("psnr_db"), (int, float))]
if unscored:
    sys.exit(f"{run}: chained seams without a score: {unscored}")
if not (run / "contact-sheet.png").is_file():
    sys.exit(f"{run}: no contact-sheet.png")
films = [p for p in run.glob("*.mp4") if p.name != "preview.mp4"]
if not films:
    sys.exit(f"{run}: no film")
print(f"{run}: {len(chained)} chained seams scored, film {films[0].name}")
