"""The StudyBuilder's form as a Study, as the code that builds it, and back from a Study."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.notebook._seeds import format_seeds, parse_seeds
from mushin_nb.notebook.builder.form import _EXTRAS, _LABELS
from mushin_nb.notebook.builder.namespace import _is_identifier
from mushin_nb.notebook.builder.trainer import (
    MethodsLoader,
    ModuleTrainer,
    _slug,
    methods_loader,
    module_trainer,
)

_Builder = TypeVar("_Builder", bound="_StudyCode")


class _StudyCode:
    """The Study a :class:`~mushin_nb.notebook.builder.StudyBuilder`'s form describes, its
    code, and the form of a Study (:meth:`from_study`)."""

    # ------------------------------------------------------------------ Study & code
    def _method_objects(self) -> dict[str, Any]:
        methods: dict[str, Any] = {}
        for name in self.methods.value:
            obj = self.namespace[name]
            if self._kinds.get(name) == "module":
                obj = module_trainer(obj, self.namespace[self.train_data.value],
                                     epochs=self.epochs.value, lr=self.lr.value,
                                     name=self._label(name))
            methods[self._label(name)] = obj
        return methods

    def _invalid(self) -> str:
        listed = "; ".join(f"{_LABELS[k].lower()}: {v}" for k, v in self._errors.items())
        return (f"The StudyBuilder form has invalid fields: {listed}. Fix: correct them (the "
                "form shows each next to its field).")

    def _require_valid(self) -> None:
        self._update()
        if self._errors:
            raise MushinValueError(self._invalid())

    def to_study(self) -> Any:
        """The :class:`~mushin_nb.Study` the form describes (not run).

        Raises
        ------
        MushinValueError
            The form has invalid fields (see :attr:`errors`).
        """
        from mushin_nb.study import Study

        self._require_valid()
        methods = self._method_objects()
        user_loader = self.namespace[self.load_fn.value] if self.load_fn.value else None
        load_fn = user_loader
        if any(isinstance(fn, ModuleTrainer) for fn in methods.values()):
            load_fn = methods_loader(methods, default=user_loader)
        extras = dict(self._extras)
        if extras["predict_fn"] is not None:
            extras["predict_fn"] = self.namespace[extras["predict_fn"]]
        return Study(methods, load_fn, seeds=parse_seeds(self.seeds.value),
                     data=self.namespace[self.data.value], num_classes=self.num_classes.value,
                     task=self.task.value, test=self.test.value, alpha=self.alpha.value,
                     reference=self.reference.value, working_dir=self.working_dir.value.strip(),
                     launcher=self.launcher.value or None, **extras)

    def code(self) -> str:
        """The Python that builds and runs the same Study (the Show code button).

        Namespace objects appear by their names, checked to be identifiers; every other
        value is written as a Python literal, never as the text typed in the form.

        Raises
        ------
        MushinValueError
            The form has invalid fields (see :attr:`errors`).
        """
        self._require_valid()
        return self._code_text()

    def _code_text(self) -> str:
        chosen = list(self.methods.value)
        modules = [n for n in chosen if self._kinds.get(n) == "module"]
        helpers = (["methods_loader", "module_trainer"] if modules else [])
        lines = ["from mushin_nb import Study"]
        if helpers:
            lines.append(f"from mushin_nb.notebook.builder import {', '.join(helpers)}")
        lines += ["", "methods = {"]
        for name in chosen:
            expr = _ident(name)
            if name in modules:
                label = self._label(name)
                default_name = getattr(self.namespace[name], "__name__", None)
                named = "" if label == default_name else f", name={label!r}"
                expr = (f"module_trainer({expr}, {_ident(self.train_data.value)}, "
                        f"epochs={self.epochs.value!r}, lr={self.lr.value!r}{named})")
            lines.append(f"    {self._label(name)!r}: {expr},")
        lines += ["}", "study = Study(", "    methods,"]
        loader = _ident(self.load_fn.value) if self.load_fn.value else None
        if modules:
            loader = f"methods_loader(methods{', default=' + loader if loader else ''})"
        if loader:
            lines.append(f"    load_fn={loader},")
        lines += [
            f"    seeds={parse_seeds(self.seeds.value)!r},",
            f"    data={_ident(self.data.value)},",
            f"    num_classes={int(self.num_classes.value)!r},",
            f"    task={self.task.value!r},",
            f"    test={self.test.value!r},",
            f"    alpha={float(self.alpha.value)!r},",
            f"    reference={self.reference.value!r},",
            f"    working_dir={self.working_dir.value.strip()!r},",
        ]
        if self.launcher.value:
            lines.append(f"    launcher={self.launcher.value!r},")
        for name in _EXTRAS:
            value = self._extras[name]
            if value is not None:
                text = _ident(value) if name == "predict_fn" else repr(value)
                lines.append(f"    {name}={text},")
        lines += [")", "result = study.run()", "result"]
        return "\n".join(lines)

    # ------------------------------------------------------------------ round trip
    @classmethod
    def from_study(cls: type[_Builder], study: Any,
                   namespace: Mapping[str, Any] | None = None) -> _Builder:
        """A builder whose form describes ``study``: its methods, data and settings.

        Every object of the study (train_fns, module factories, data, loaders) must be a
        variable of ``namespace``, since the form and its code name them.

        Raises
        ------
        MushinTypeError
            ``study`` is not a Study.
        MushinValueError
            An object of the study is not in the namespace, or a setting has no place in
            the form (names each).
        """
        from mushin_nb.study import Study, load_checkpoint

        if not isinstance(study, Study):
            raise bad_value("study", study, "a mushin_nb.Study", "pass the Study itself",
                            MushinTypeError)
        builder = cls(namespace)
        names, trainers = [], []
        labels: dict[str, str] = {}
        for label, fn in study.methods.items():
            if isinstance(fn, ModuleTrainer) and builder._name_of(fn) is None:
                trainers.append(fn)
                fn = fn.factory
            name = builder._name_of(fn, prefer=label)
            if name is None:
                raise bad_value(f"study.methods[{label!r}]", fn, "an object of the namespace "
                                "(the form lists methods by their variable names)",
                                f"assign it to a variable, e.g. {_slug(label)} = ...")
            names.append(name)
            labels[name] = label
        settings = {"methods": names, "seeds": format_seeds(study.seeds),
                    "data": builder._require_name("study.data", study.data),
                    "num_classes": study.num_classes, "working_dir": str(study.working_dir),
                    "launcher": study.launcher}
        if trainers:
            first = trainers[0]
            for other in trainers[1:]:
                if (other.data, other.epochs, other.lr) != (first.data, first.epochs, first.lr):
                    raise bad_value("study.methods", other, "module trainers sharing train "
                                    "data, epochs and lr (the form has one of each)",
                                    "build the form for one setting at a time")
            settings.update(train_data=builder._require_name("train data", first.data),
                            epochs=first.epochs, lr=first.lr)
        loader = study.load_fn
        if isinstance(loader, MethodsLoader):
            loader = loader.default
        if loader is not None and loader is not load_checkpoint:
            settings["load_fn"] = builder._require_name("study.load_fn", loader)
        kwargs = dict(getattr(study, "_compare_kwargs", {}))
        for key in ("task", "test", "alpha", "reference"):
            if kwargs.get(key) is not None:
                settings[key] = kwargs[key]
        if kwargs.get("predict_fn") is not None:
            settings["predict_fn"] = builder._require_name("study predict_fn",
                                                           kwargs["predict_fn"])
        for key in ("metrics", "ignore_index"):
            if kwargs.get(key) is not None:
                settings[key] = kwargs[key]
        builder._labels = labels
        reference = settings.pop("reference", None)
        builder.set(**settings)
        if reference is not None:
            builder.set(reference=reference)
        return builder

    def _name_of(self, obj: Any, prefer: str | None = None) -> str | None:
        if prefer is not None and _is_identifier(prefer) and self.namespace.get(prefer) is obj:
            return prefer
        return next((name for name, value in self.namespace.items()
                     if value is obj and _is_identifier(name) and not name.startswith("_")),
                    None)

    def _require_name(self, what: str, obj: Any) -> str:
        name = self._name_of(obj)
        if name is None:
            raise bad_value(what, obj, "an object of the namespace (the form names it)",
                            "assign it to a variable of the notebook first")
        return name


def _ident(name: str) -> str:
    """``name`` for generated code, after checking it is an identifier."""
    if not _is_identifier(name):
        raise bad_value("name", name, "a Python identifier (it is written into code)",
                        "rename the variable")
    return name
