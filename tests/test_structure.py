"""The layout the code keeps to, checked by parsing it (no imports are executed):

* every ``scripts/<rule>.py`` imports from one module of its study, ``<study>/stages.py``
  (plus the glue ``cnnpractice.workflow``), and calls ``stages.<its own name>``;
* a study reaches another study only through that study's ``stages`` module, and never
  through a private name;
* the package has no import cycle (imports inside functions count);
* no module (package, scripts, rules) is over 400 lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "cnnpractice"
STUDIES = ("timeseries", "smalldata", "brain", "elves", "semantic")
MAX_LINES = 400
SHARED_STAGES = "cnnpractice.data.stages"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str | None = None) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from ... import ...`` and ``import ...`` in ``path``,
    anywhere in the file, relative imports resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            found.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def study_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "cnnpractice" and parts[1] in STUDIES else None


def target_modules(module: str, names: list[str]) -> list[str]:
    """``from cnnpractice.brain import stages`` imports the module cnnpractice.brain.stages."""
    if (
        module.startswith("cnnpractice")
        and names
        and all((PKG.parent / module.replace(".", "/") / f"{n}.py").is_file() for n in names)
    ):
        return [f"{module}.{n}" for n in names]
    return [module]


SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
RULE_FILES = {p.stem: p.read_text() for p in (ROOT / "rules").glob("*.smk")}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_each_script_calls_its_studys_stages(script):
    used = {m for module, names in imports(script) for m in target_modules(module, names)}
    package = {m for m in used if m.startswith("cnnpractice")}
    # the shared download rules that belong to no study enter through cnnpractice.data.stages
    studies = {m for m in package if study_of(m) or m == SHARED_STAGES}
    assert package - studies <= {"cnnpractice.workflow"}, package
    assert len(studies) == 1, f"{script.name} imports {sorted(studies)}: one module of its study, its stages"
    (module,) = studies
    assert module.endswith(".stages"), f"{script.name} imports {module}, not the study's stages module"
    study = study_of(module) or "data"
    # the rule that runs the script lives in rules/<study>.smk (downloads: rules/data.smk)
    runs = [name for name, text in RULE_FILES.items() if f'"../scripts/{script.name}"' in text]
    assert runs and set(runs) <= {study, "data"}, (script.name, runs)
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and getattr(node.func.value, "id", "") == "stages"
    }
    assert calls == {script.stem}, f"{script.name} calls stages.{sorted(calls)}; expected stages.{script.stem}"
    stages = ast.parse((PKG / study / "stages.py").read_text())
    assert script.stem in {f.name for f in stages.body if isinstance(f, ast.FunctionDef)}


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def test_studies_reach_each_other_only_through_public_stages():
    problems = []
    for name, path in package_modules().items():
        mine = study_of(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for module, names in imports(path, package):
            other = study_of(module)
            if not other or other == mine or not mine:
                continue
            for target in target_modules(module, names):
                if not target.endswith(".stages"):
                    problems.append(f"{name} imports {target}")
            problems += [f"{name} imports the private {module}.{n}" for n in names if n.startswith("_")]
    assert problems == []


def test_no_import_cycle():
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for module, names in imports(path, package):
            for target in target_modules(module, names):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # a package's __init__ importing its own children is not a cycle
                if (
                    target
                    and target != name
                    and not target.startswith(name + ".")
                    and not name.startswith(target + ".")
                ):
                    deps.add(target)
        graph[name] = deps
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize(
    "path",
    sorted([*PKG.rglob("*.py"), *SCRIPTS, *(ROOT / "rules").rglob("*.smk"), ROOT / "Snakefile"]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_over_400_lines(path):
    assert sum(1 for _ in path.open()) <= MAX_LINES


def test_every_study_has_one_helper_file_with_its_targets():
    """rules/helpers/<study>.smk defines <study>_targets(); all_targets() only concatenates."""
    for study in STUDIES:
        text = (ROOT / "rules" / "helpers" / f"{study}.smk").read_text()
        assert re.search(rf"^def {study}_targets\(\):", text, re.M), study
    common = (ROOT / "rules" / "common.smk").read_text()
    body = common[common.index("def all_targets():") :]
    assert re.findall(r"(\w+_targets)\(\)", body)[1:] == [
        f"{s}_targets" for s in ("timeseries", "smalldata", "semantic", "elves", "brain")
    ]


def test_downloads_live_in_data_smk():
    for name, text in RULE_FILES.items():
        fetches = re.findall(r"^rule (fetch_\w+):", text, re.M)
        assert not fetches or name == "data", (name, fetches)
