"""The import layering of the package, read from the source with ``ast`` (every import statement: module level,
inside functions, under ``TYPE_CHECKING``).

The rule:

- ``vitpose_mm.models`` (the layers, the ViT, the head, the estimators, the distillers) imports nothing from the
  loader, the engine or any satellite;
- the core (``vitpose_mm`` itself, ``models`` but ``models.mae``, ``checkpoints``, ``engine``, ``datasets``,
  ``evaluation``, ``utils``) imports no satellite;
- the satellites (``apis``, ``deploy``, ``analysis``, ``config_convert``, ``synthetic``, ``models.mae``,
  ``finetune``) may import the core and each other; ``import vitpose_mm`` loads none of them
  (``tests/test_import.py``).
"""
import ast
import os.path as osp
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'vitpose_mm'

SATELLITES = ('vitpose_mm.apis', 'vitpose_mm.deploy', 'vitpose_mm.analysis', 'vitpose_mm.config_convert',
              'vitpose_mm.synthetic', 'vitpose_mm.models.mae', 'vitpose_mm.finetune')
# importer (a module or package prefix) -> the packages it must not import
RULES = {
    'vitpose_mm.models': ('vitpose_mm.checkpoints', 'vitpose_mm.engine', *SATELLITES),
    'vitpose_mm': SATELLITES,  # the core: every module that is not a satellite
}
# Edges that still break the rule, each to be removed (empty: the rule holds everywhere).
PENDING: set = set()


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + '.')


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports(path: Path):
    """(imported module, line) for every import statement of the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from pkg import sub` names a module too
            yield from ((f'{target}.{alias.name}', node.lineno) for alias in node.names)


def edges():
    for path in sorted(PACKAGE.rglob('*.py')):
        source = module_name(path)
        for target, line in imports(path):
            if _in(target, 'vitpose_mm'):
                yield source, target, f'{osp.relpath(path, PACKAGE.parent)}:{line}'


def forbidden_for(source: str) -> set:
    """The packages ``source`` must not import (a package may always import itself)."""
    return {f for importer, packages in RULES.items() if _in(source, importer) and
            not any(_in(source, s) for s in SATELLITES) for f in packages if not _in(source, f)}


def violations():
    """(importer, imported module, forbidden package, file:line) of every import against the rule."""
    found = []
    for source, target, where in edges():
        bad = sorted(f for f in forbidden_for(source) if _in(target, f))
        if bad:
            found.append((source, target, bad[0], where))
    return found


def _pending(source: str, target: str) -> bool:
    return any(source == s and _in(target, t) for s, t in PENDING)


def test_the_rule_holds():
    found = [v for v in violations() if not _pending(v[0], v[1])]
    assert not found, '\n'.join(f'{where}: {source} imports {target} ({bad})' for source, target, bad, where in found)


def test_pending_edges_still_exist():
    """An edge that is gone must leave PENDING (so that the list only shrinks)."""
    stale = [(s, t) for s, t in PENDING if not any(s == v[0] and _in(v[1], t) for v in violations())]
    assert not stale, f'no longer imported, remove from PENDING: {stale}'


def test_the_reader_sees_every_kind_of_import(tmp_path, monkeypatch):
    """The parser resolves relative imports and finds imports inside functions and ``TYPE_CHECKING`` blocks."""
    pkg = tmp_path / 'vitpose_mm' / 'models' / 'heads'
    pkg.mkdir(parents=True)
    (pkg / 'x.py').write_text('from typing import TYPE_CHECKING\nfrom ...engine import runner\n'
                              'if TYPE_CHECKING:\n    import vitpose_mm.apis\n'
                              'def f():\n    from vitpose_mm.checkpoints.io import load_file\n')
    monkeypatch.setattr(sys.modules[__name__], 'PACKAGE', tmp_path / 'vitpose_mm')
    assert sorted((t, line) for t, line in imports(pkg / 'x.py') if t.startswith('vitpose_mm')) == [
        ('vitpose_mm.apis', 4), ('vitpose_mm.checkpoints.io.load_file', 6), ('vitpose_mm.engine.runner', 2)]
    assert sorted((source, bad) for source, _, bad, _ in violations()) == [
        ('vitpose_mm.models.heads.x', 'vitpose_mm.apis'), ('vitpose_mm.models.heads.x', 'vitpose_mm.checkpoints'),
        ('vitpose_mm.models.heads.x', 'vitpose_mm.engine')]
