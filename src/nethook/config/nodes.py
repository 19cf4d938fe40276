"""YAML read as a composed node tree, so that every value knows its file, line and key path.

Nothing here constructs arbitrary objects: documents are composed with the safe loader
(libyaml's when available), and only plain scalars are turned into Python values, by tag.
Mappings are walked by hand, which also lets a duplicated key be an error instead of
PyYAML's silent "the last one wins".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Callable, Dict, List, Optional, Tuple, Type, TypeVar, Union

import yaml
from yaml.constructor import SafeConstructor

from nethook.base.errors import ConfigError
from nethook.config.values import did_you_mean

T = TypeVar("T")
S = TypeVar("S")
Scalar = Union[int, str]

TAG_STR = "tag:yaml.org,2002:str"
TAG_INT = "tag:yaml.org,2002:int"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_NULL = "tag:yaml.org,2002:null"
TAG_FLOAT = "tag:yaml.org,2002:float"
_YAML11_OCTAL = re.compile(r"[-+]?0[0-9_]+\Z")  # 010 is 8 to PyYAML: never what was meant
_SCALAR_KINDS = {TAG_INT: "the number", TAG_FLOAT: "the number", TAG_BOOL: "the boolean"}


def loader_class() -> Type[yaml.SafeLoader]:
    """libyaml's safe loader when PyYAML was built with it, else the pure-Python one."""
    loader: Type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def compose(text: str, source: str) -> Optional[yaml.Node]:
    """The single document in ``text`` as a node tree; ``None`` when it holds nothing."""
    loader: Optional[yaml.SafeLoader] = None
    try:
        loader = loader_class()(text)  # the pure-Python reader checks characters right here
        node: Optional[yaml.Node] = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "unreadable"
        raise ConfigError(source, line, "", f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        raise ConfigError(source, line, "", f"invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, 0, "", f"invalid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def describe(node: yaml.Node) -> str:
    """How an error message names what was found: ``a list``, ``'eth0'``, ``the number 5``."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == TAG_NULL:
        return "an empty value"
    if node.tag == TAG_STR:
        quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
        return f"the quoted string '{node.value}'" if quoted else f"'{node.value}'"
    kind = _SCALAR_KINDS.get(node.tag)
    return f"{kind} {node.value}" if kind else f"'{node.value}' tagged {node.tag}"


class Value:
    """One node of a document with its source file and key path (``interfaces.eth0``)."""

    def __init__(self, node: yaml.Node, source: str, path: str = "") -> None:
        self.node = node
        self.source = source
        self.path = path

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.source, self.line, self.path, message)

    def _child(self, node: yaml.Node, key: str) -> Value:
        return Value(node, self.source, f"{self.path}.{key}" if self.path else key)

    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == TAG_NULL

    def _expect(self, what: str) -> ConfigError:
        return self.error(f"expected {what}, got {describe(self.node)}")

    def entries(self) -> List[Tuple[Value, Value]]:
        """A mapping's (key, value) pairs in order; an empty value is an empty mapping."""
        if self.is_null():
            return []
        if not isinstance(self.node, yaml.MappingNode):
            raise self._expect("a mapping")
        seen: Dict[str, int] = {}
        pairs = []
        for key_node, value_node in self.node.value:
            key = Value(key_node, self.source, self.path)
            if not isinstance(key_node, yaml.ScalarNode) or key.is_null():
                raise key.error(f"expected a key, got {describe(key_node)}")
            text = str(key_node.value)
            if text in seen:
                raise key.error(f"duplicate key '{text}' (first at line {seen[text]})")
            seen[text] = key.line
            pairs.append((key, self._child(value_node, text)))
        return pairs

    def mapping(self, allowed: Sequence[str],
                required: Optional[Mapping[str, str]] = None) -> Dict[str, Value]:
        """A mapping with a fixed set of keys; ``required`` maps a key to a hint."""
        found: Dict[str, Value] = {}
        for key, value in self.entries():
            name = str(key.node.value)
            if name not in allowed:
                raise key.error(_unknown_key(name, allowed))
            found[name] = value
        for name, hint in (required or {}).items():
            if name not in found:
                raise self.error(f"'{name}' is required{hint}")
        return found

    def sequence(self) -> List[Value]:
        """A list's items; an empty value is an empty list."""
        if self.is_null():
            return []
        if not isinstance(self.node, yaml.SequenceNode):
            raise self._expect("a list")
        return [Value(n, self.source, f"{self.path}[{i}]") for i, n in enumerate(self.node.value)]

    def _scalar(self, tags: Sequence[str], what: str) -> Scalar:
        if not isinstance(self.node, yaml.ScalarNode) or self.node.tag not in tags:
            raise self._expect(what)
        if self.node.tag == TAG_STR:
            return str(self.node.value)
        try:
            constructed = int(SafeConstructor().construct_object(self.node))
        except (ValueError, yaml.YAMLError):
            raise self._expect(what) from None
        if self.node.tag == TAG_INT and _YAML11_OCTAL.match(self.node.value):
            raise self.error(f"'{self.node.value}' has a leading zero, which YAML reads as "
                             f"octal ({constructed}); write it without the zero")
        return constructed

    def string(self) -> str:
        return str(self._scalar((TAG_STR,), "a string"))

    def boolean(self) -> bool:
        return bool(self._scalar((TAG_BOOL,), "true or false"))

    def integer(self, low: int, high: int) -> int:
        number = int(self._scalar((TAG_INT,), "an integer"))
        if not low <= number <= high:
            raise self.error(f"{number} is out of range ({low} to {high})")
        return number

    def string_or_integer(self, what: str) -> Scalar:
        return self._scalar((TAG_STR, TAG_INT), what)

    def parse(self, parser: Callable[[str], T]) -> T:
        """A string turned into a value by ``parser``; its ValueError becomes a ConfigError."""
        return self.check(parser, self.string())

    def check(self, parser: Callable[[S], T], value: S) -> T:
        try:
            return parser(value)
        except ValueError as exc:
            raise self.error(str(exc)) from None


def _unknown_key(name: str, allowed: Sequence[str]) -> str:
    return f"unknown key '{name}'{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}"
