"""The source layout keeps its promises: a stage imports another only through that stage's public
surface (never a private ``_name``, never a private module), and every stage folder has tests."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "collabmine"
TESTS = Path(__file__).resolve().parent
STAGES = ("ingest", "tagging", "themes", "evidence", "explore", "store")


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str:
    """'collabmine.ingest.readers' -> 'ingest'; a top-level module is a stage of its own."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path, src: Path = SRC):
    """(module imported from, name) for every ``from … import …`` of collabmine in a file."""
    me = _module_name(path, src)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] == "collabmine":
            for alias in node.names:
                yield target, alias.name


def private_imports(src: Path) -> list[str]:
    found = []
    for path in sorted(src.rglob("*.py")):
        me = _module_name(path, src)
        for target, name in _imports(path, src):
            full = f"{target}.{name}" if target == "collabmine" else target
            if _stage(full) == _stage(me):
                continue
            private_part = [p for p in target.split(".") if p.startswith("_")]
            if name.startswith("_") and name != "__version__" or private_part:
                found.append(f"{me} imports {name} from {target}")
    return found


def test_no_stage_imports_another_stages_private_names():
    found = private_imports(SRC)
    assert not found, "\n".join(found)


def test_the_checker_sees_a_private_import(tmp_path):
    """The rule can fail: a private helper imported across stages (relative or absolute) is
    reported; the same import inside its own stage is not."""
    src = tmp_path / "collabmine"
    for folder in ("ingest", "explore"):
        (src / folder).mkdir(parents=True)
        (src / folder / "__init__.py").write_text("")
    (src / "__init__.py").write_text("")
    (src / "ingest" / "readers.py").write_text("def _looks_binary(data): ...\n")
    (src / "ingest" / "process.py").write_text("from .readers import _looks_binary\n")
    (src / "explore" / "browse.py").write_text("from ..ingest.readers import _looks_binary\n")
    (src / "explore" / "query.py").write_text("from collabmine.ingest import _helper\n")
    assert private_imports(src) == ["collabmine.explore.browse imports _looks_binary from collabmine.ingest.readers",
                                    "collabmine.explore.query imports _helper from collabmine.ingest"]


def test_every_stage_folder_has_its_tests_folder():
    for stage in STAGES:
        assert (SRC / stage / "__init__.py").exists(), stage
        assert list((TESTS / stage).glob(f"test_{stage}_*.py")), f"tests/{stage}/ has no test_{stage}_*.py"
