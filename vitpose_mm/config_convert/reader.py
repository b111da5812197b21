"""Read an official ViTPose (mmpose 0.x / mmcv 1.x) config file without running it.

The official configs are plain assignments of literals (``dict(...)``, lists, f-strings, references to earlier
variables such as ``channel_cfg['num_output_channels']``, ``list(range(133))``) plus ``{{_base_.dataset_info}}``
placeholders that mmcv substitutes from the ``_base_`` files. This reader evaluates exactly that subset from the
syntax tree, so converting a config never executes its code; a ``{{_base_.X}}`` placeholder becomes a ``BaseRef``
(the ``_base_`` files are not read: their content, runtime defaults and dataset metainfo, has mmpose 1.x
equivalents that the converter names).
"""
import ast
from typing import Any, Dict

_CALLS = {'dict': dict, 'list': list, 'tuple': tuple, 'range': range}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b}


class BaseRef:
    """A ``{{_base_.name}}`` placeholder of an mmcv 1.x config."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f'{{{{_base_.{self.name}}}}}'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseRef) and other.name == self.name


def read_official_config(path: str) -> Dict[str, Any]:
    """The top-level variables of an official config file, evaluated safely (see the module docstring).

    Raises:
        ValueError: a statement other than ``name = expression`` (imports and docstrings are skipped), or an
        expression outside the supported subset; the message names the file and line.
    """
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    namespace: Dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) or (
                isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f'{path}:{stmt.lineno}: only `name = value` statements can be read, got '
                             f'{type(stmt).__name__}')
        try:
            namespace[stmt.targets[0].id] = _evaluate(stmt.value, namespace)
        except ValueError as e:
            raise ValueError(f'{path}:{stmt.lineno}: {e}') from e
    return namespace


def _evaluate(node: ast.AST, ns: Dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in ns:
            raise ValueError(f'name {node.id!r} is not defined above')
        return ns[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_evaluate(e, ns) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {_evaluate(k, ns): _evaluate(v, ns) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Set):
        return _base_ref(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        args = [_evaluate(a, ns) for a in node.args]
        kwargs = {k.arg: _evaluate(k.value, ns) for k in node.keywords}
        result = _CALLS[node.func.id](*args, **kwargs)
        return list(result) if isinstance(result, range) else result
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, ns)[_evaluate(node.slice, ns)]
    if isinstance(node, ast.JoinedStr):
        return ''.join(str(_evaluate(v.value, ns)) if isinstance(v, ast.FormattedValue) else str(v.value)
                       for v in node.values)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_evaluate(node.left, ns), _evaluate(node.right, ns))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, ns)
    raise ValueError(f'cannot read a {type(node).__name__} expression (only literals, dict/list/tuple/range '
                     'calls, names defined above, subscripts, f-strings and arithmetic)')


def _base_ref(node: ast.Set) -> BaseRef:
    """``{{_base_.name}}`` parses as a set holding a set holding the attribute ``_base_.name``."""
    inner = node.elts[0] if len(node.elts) == 1 else None
    attr = inner.elts[0] if isinstance(inner, ast.Set) and len(inner.elts) == 1 else None
    if isinstance(attr, ast.Attribute) and isinstance(attr.value, ast.Name) and attr.value.id == '_base_':
        return BaseRef(attr.attr)
    raise ValueError('a set literal that is not a {{_base_.name}} placeholder')
