"""The house rules that the code's shape must keep (docs/architecture.md): no import cycles
between chainer's modules, the library never imports click, ffmpeg command lines only in
media/ffmpeg.py, and no module over ~500 lines without saying why at its top."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "chainer"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        name = ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
        mods[name[:-len(".__init__")] if name.endswith(".__init__") else name] = p
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path], *, top_level: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if top_level else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_import_cycles_between_modules():
    mods = _modules()
    graph = {m: {t for t in _imports(m, p, mods, top_level=True) if t in mods and t != m}
             for m, p in mods.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
    assert cycles == [], cycles[:3]


def test_the_library_never_imports_click():
    mods = _modules()
    offenders = [m for m, p in mods.items() if not m.startswith("chainer.cli")
                 and any(t == "click" or t.startswith("click.")
                         for t in _imports(m, p, mods, top_level=False))]
    assert offenders == []


def test_ffmpeg_command_lines_live_in_one_module():
    offenders = []
    for p in PKG.rglob("*.py"):
        if p.name == "ffmpeg.py" and p.parent.name == "media":
            continue
        text = p.read_text(encoding="utf-8")
        # the bundled binary, or a process started on it
        if "get_ffmpeg_exe" in text or "ffmpeg_exe()" in text or \
                ("subprocess" in text and "ffmpeg" in text and p.parent.name == "media"):
            offenders.append(str(p.relative_to(PKG)))
    assert offenders == []


def test_long_modules_say_why():
    silent = []
    for p in PKG.rglob("*.py"):
        lines = p.read_text(encoding="utf-8").splitlines()
        if len(lines) > 520:
            head = "\n".join(lines[:40])
            if "500 lines" not in head:
                silent.append(f"{p.relative_to(PKG)} ({len(lines)} lines)")
    assert silent == []


def test_every_runtime_dependency_is_imported_by_the_library():
    import tomllib

    deps = tomllib.loads((PKG.parent / "pyproject.toml").read_text())["project"]["dependencies"]
    import_name = {"imageio-ffmpeg": "imageio_ffmpeg", "pillow": "PIL", "pyyaml": "yaml"}
    mods = _modules()
    used = set()
    for m, p in mods.items():
        used |= {t.split(".")[0] for t in _imports(m, p, mods, top_level=False)}
    unused = []
    for dep in deps:
        name = dep.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        if import_name.get(name, name.replace("-", "_")) not in used:
            unused.append(name)
    assert unused == []
