"""Declared JSON objects for the manifest and the policy, checked when parsed.

These models are on the path of every ``cli.sh`` call. Built with pydantic they cost
about 90 ms of start-up per call (``python -X importtime -m xtdf.client.xtenv decrypt``:
``xtdf.formats.ztdf.manifest`` 91 ms of a 200 ms decrypt), so they are plain classes
with a table of fields instead. A parsed object keeps the keys it does not know and
remembers which keys it had, so a manifest read from another SDK and written back loses
nothing and gains nothing; an invalid one fails with the path of the first bad field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

Path = tuple[int | str, ...]
#: checks one JSON value found at ``path``; returns what the model stores
Check = Callable[[Any, Path], Any]

_REQUIRED = object()


class FieldError(ValueError):
    """A value that does not fit its field; ``path`` locates it in the document."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def where(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


def string(value: Any, path: Path) -> str:
    if isinstance(value, str):
        return value
    raise FieldError(path, "Input should be a valid string")


#: text a boolean field accepts (what pydantic's lax mode took before these models)
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def integer(value: Any, path: Path) -> int:
    """An integer; also an integral float, a bool or a decimal string, as other SDKs'
    manifests were read before (pydantic's lax mode)."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise FieldError(path, "Input should be a valid integer")


def boolean(value: Any, path: Path) -> bool:
    """A boolean; also 0/1 and the usual words for them, as read before."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FieldError(path, "Input should be a valid boolean")


def anything(value: Any, path: Path) -> Any:
    return value


def optional(check: Check) -> Check:
    def check_optional(value: Any, path: Path) -> Any:
        return None if value is None else check(value, path)

    return check_optional


def list_of(check: Check) -> Check:
    def check_list(value: Any, path: Path) -> list[Any]:
        if not isinstance(value, list):
            raise FieldError(path, "Input should be a valid list")
        return [check(item, (*path, i)) for i, item in enumerate(value)]

    return check_list


def either(*checks: Check) -> Check:
    """The first check that accepts the value; else the first one's complaint."""

    def check_either(value: Any, path: Path) -> Any:
        first: FieldError | None = None
        for check in checks:
            try:
                return check(value, path)
            except FieldError as exc:
                first = first or exc
        assert first is not None
        raise first

    return check_either


class Field:
    """One declared field: the attribute, its JSON key, its check and its default."""

    __slots__ = ("attr", "check", "default", "factory", "key")

    def __init__(
        self,
        attr: str,
        check: Check,
        *,
        key: str | None = None,
        default: Any = _REQUIRED,
        factory: Callable[[], Any] | None = None,
    ) -> None:
        self.attr = attr
        self.key = key or attr
        self.check = check
        self.default = default
        self.factory = factory

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and self.factory is None

    def default_value(self) -> Any:
        return self.factory() if self.factory is not None else self.default


class JsonModel:
    """A JSON object with declared fields; subclasses list them in ``FIELDS``.

    Constructing one from code trusts the values (they come from this program);
    :meth:`parse` checks a document that came from outside.
    """

    FIELDS: ClassVar[Sequence[Field]] = ()
    _by_attr: ClassVar[dict[str, Field]]

    _set: set[str]
    _extra: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_attr = {f.attr: f for f in cls.FIELDS}

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_set", set())
        object.__setattr__(self, "_extra", {})
        for f in self.FIELDS:
            if f.attr in values:
                value = values.pop(f.attr)
            elif f.key in values:
                value = values.pop(f.key)
            elif f.required:
                raise TypeError(f"{type(self).__name__} needs {f.attr}")
            else:
                object.__setattr__(self, f.attr, f.default_value())
                continue
            object.__setattr__(self, f.attr, value)
            self._set.add(f.attr)
        self._extra.update(values)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._by_attr:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        object.__setattr__(self, name, value)
        self._set.add(name)

    @classmethod
    def parse(cls, doc: Any, path: Path = ()) -> Self:
        """Check ``doc`` (decoded JSON); :class:`FieldError` names the first bad field.
        Also a field's check, for models nested in models."""
        if not isinstance(doc, dict):
            raise FieldError(path, "Input should be a valid dictionary or object")
        self = cls.__new__(cls)
        object.__setattr__(self, "_set", set())
        object.__setattr__(self, "_extra", {})
        read: set[str] = set()
        for f in cls.FIELDS:
            name = f.key if f.key in doc else (f.attr if f.attr in doc else None)
            if name is None:
                if f.required:
                    raise FieldError((*path, f.key), "Field required")
                object.__setattr__(self, f.attr, f.default_value())
                continue
            read.add(name)
            object.__setattr__(self, f.attr, f.check(doc[name], (*path, f.key)))
            self._set.add(f.attr)
        # every key not read is kept, a field's Python name beside its JSON key included
        self._extra.update((k, v) for k, v in doc.items() if k not in read)
        return self

    @property
    def extra(self) -> dict[str, Any]:
        """Keys of the parsed document that no field declares, kept for writing back."""
        return self._extra

    @property
    def fields_set(self) -> frozenset[str]:
        """Fields given to the constructor, found in the document or assigned since."""
        return frozenset(self._set)

    def to_dict(self, *, exclude_unset: bool = False, exclude_none: bool = False) -> dict[str, Any]:
        """The JSON object, under the JSON keys, unknown keys after the declared ones."""
        out: dict[str, Any] = {}
        for f in self.FIELDS:
            if exclude_unset and f.attr not in self._set:
                continue
            value = getattr(self, f.attr)
            if exclude_none and value is None:
                continue
            out[f.key] = _dump(value, exclude_unset, exclude_none)
        for key, value in self._extra.items():
            if not (exclude_none and value is None):
                out[key] = value
        return out

    def copy(self) -> Self:
        other = copy.copy(self)
        object.__setattr__(other, "_set", set(self._set))
        object.__setattr__(other, "_extra", dict(self._extra))
        return other

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.attr}={getattr(self, f.attr)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({inner})"


def _dump(value: Any, exclude_unset: bool, exclude_none: bool) -> Any:
    if isinstance(value, JsonModel):
        return value.to_dict(exclude_unset=exclude_unset, exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, exclude_unset, exclude_none) for v in value]
    return value
