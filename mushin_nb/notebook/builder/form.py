"""The StudyBuilder's form: its fields, what the namespace offers them, and their checks.

Every widget action has a plain-method twin: :meth:`~_Form.set` fills fields as typing
would, :meth:`~_Form.refresh` lists the namespace again, :attr:`~_Form.errors` says what
keeps Run disabled.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import numbers
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from mushin_nb.errors import (
    MushinError,
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.notebook._seeds import format_seeds, parse_seeds
from mushin_nb.notebook.builder.namespace import _infer_classes, _is_data, _is_identifier, _kind
from mushin_nb.notebook.builder.trainer import _slug
from mushin_nb.notebook.builder.views import _html_error
from mushin_nb.progress._poller import report_callback_error

_DEFAULT = ""  # the dropdown value meaning "none chosen" / "the default"

#: Field name -> label shown in the form.
_LABELS = {
    "methods": "Methods", "seeds": "Seeds", "data": "Evaluation data",
    "train_data": "Train data", "epochs": "Epochs", "lr": "Learning rate",
    "load_fn": "Load checkpoints", "task": "Task", "num_classes": "Classes",
    "test": "Test", "alpha": "Alpha", "reference": "Reference",
    "working_dir": "Working dir", "launcher": "Launcher",
}
#: Settings without a field of their own: from_study() and set() keep them for the Study.
_EXTRAS = ("metrics", "predict_fn", "ignore_index")


def _launchers() -> list[tuple[str, str]]:
    """Launchers to offer: in-process first, then Hydra's and the installed plugins'."""
    options = [("in-process (fast)", _DEFAULT), ("basic (Hydra)", "basic")]
    plugins = {"hydra_plugins.hydra_joblib_launcher": ["joblib"],
               "hydra_plugins.hydra_submitit_launcher": ["submitit_local", "submitit_slurm"]}
    for module, names in plugins.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            options += [(name, name) for name in names]
    return options


def _tasks() -> list[str]:
    from mushin_nb import metrics

    return list(getattr(metrics, "_TASKS", None) or metrics.BUILTIN_TASKS)


class _Form:
    """The form of a :class:`~mushin_nb.notebook.builder.StudyBuilder`: layout, namespace
    listing, :meth:`set` and validation (running and the result tabs are other parts)."""

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        W = widgets  # noqa: N806
        wide = W.Layout(width="420px")
        style = {"description_width": "130px"}

        def field(cls: type, name: str, **kw: Any) -> Any:
            widget = cls(description=_LABELS[name], style=style, layout=wide, **kw)
            widget.add_class(f"mushin-builder-{name.replace('_', '-')}")
            return widget

        self.methods = field(W.SelectMultiple, "methods", rows=5)
        self.seeds = field(W.Text, "seeds", value="0-4",
                           placeholder="0-4, or 0,1,2, or range(5)")
        self.data = field(W.Dropdown, "data")
        self.train_data = field(W.Dropdown, "train_data")
        self.epochs = field(W.IntText, "epochs", value=3)
        self.lr = field(W.FloatText, "lr", value=1e-3)
        self.load_fn = field(W.Dropdown, "load_fn")
        self.task = field(W.Dropdown, "task", options=_tasks(), value="classification")
        self.num_classes = field(W.IntText, "num_classes", value=0)
        from mushin_nb.stats import TESTS

        self.test = field(W.Dropdown, "test", options=list(TESTS), value="welch")
        self.alpha = field(W.FloatText, "alpha", value=0.05, step=0.01)
        self.reference = field(W.Dropdown, "reference")
        self.working_dir = field(W.Text, "working_dir", value="study")
        self.launcher = field(W.Dropdown, "launcher", options=_launchers(), value=_DEFAULT)
        self._fields = {name: getattr(self, name) for name in _LABELS}
        self._messages = {name: W.HTML("") for name in _LABELS}
        for name, message in self._messages.items():
            message.add_class(f"mushin-builder-message-{name.replace('_', '-')}")

        def button(text: str, name: str, **kw: Any) -> Any:
            widget = W.Button(description=text, **kw)
            widget.add_class(f"mushin-builder-{name}")
            return widget

        self.refresh_button = button("Refresh", "refresh", icon="refresh",
                                     tooltip="list the namespace's methods and data again",
                                     layout=W.Layout(width="110px"))
        self.run_button = button("Run", "run", button_style="primary", icon="play")
        self.stop_button = button("Stop", "stop", button_style="danger", icon="stop",
                                  disabled=True)
        self.code_button = button("Show code", "show-code", icon="code")
        self.status = W.HTML("")
        self.status.add_class("mushin-builder-status")
        self.code_box = W.HTML("", layout=W.Layout(display="none"))
        self.code_box.add_class("mushin-builder-code")
        self.error_box = W.HTML("")
        self.error_box.add_class("mushin-builder-error")
        self.monitor_box = W.VBox([])
        self.monitor_box.add_class("mushin-builder-monitor")
        self.results = W.Tab(layout=W.Layout(display="none"))
        self.results.add_class("mushin-builder-results")

        def row(name: str, *extra: Any) -> Any:
            return W.HBox([self._fields[name], *extra, self._messages[name]])

        self._train_box = W.VBox([row("train_data"), row("epochs"), row("lr")],
                                 layout=W.Layout(display="none"))
        form = [row("methods", self.refresh_button), row("seeds"), row("data"),
                self._train_box, row("load_fn"), row("task"), row("num_classes"),
                row("test"), row("alpha"), row("reference"), row("working_dir"),
                row("launcher")]
        buttons = W.HBox([self.run_button, self.stop_button, self.code_button, self.status])
        self.widget = W.VBox([W.HTML("<b>Study builder</b>"), *form, buttons, self.code_box,
                              self.error_box, self.monitor_box, self.results])
        self.widget.add_class("mushin-builder")

        for name, widget in self._fields.items():
            widget.observe(self._on_data if name == "data" else self._on_change, names="value")
        self.refresh_button.on_click(lambda _: self._safely("Refresh", self.refresh))
        self.run_button.on_click(lambda _: self._safely("Run", self.run))
        self.stop_button.on_click(lambda _: self._safely("Stop", self.stop))
        self.code_button.on_click(lambda _: self._safely("Show code", self._toggle_code))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _safely(self, what: str, action: Callable[[], Any]) -> None:
        """Run a button's action; an error is shown in the form, never lost."""
        try:
            action()
        except Exception as exc:
            self.error_box.value = _html_error(f"{what}: {type(exc).__name__}: {exc}")
            if not isinstance(exc, MushinError):  # not a user mistake: show the traceback too
                report_callback_error(f"the StudyBuilder's {what}", exc)

    # ------------------------------------------------------------------ namespace
    def refresh(self) -> None:
        """List the namespace's methods, data and loaders again (the Refresh button)."""
        kinds: dict[str, str] = {}
        data: list[str] = []
        for name, obj in list(self.namespace.items()):
            if not _is_identifier(name) or name.startswith("_"):
                continue
            if _is_data(obj):
                data.append(name)
                continue
            try:
                kind = _kind(obj, self._home)
            except Exception:  # an odd object (a proxy, a broken __signature__): not for us
                kind = None
            if kind is not None:
                kinds[name] = kind
        self._kinds = kinds
        notes = {"module": " (nn.Module, default training)", "trainer": " (module trainer)"}
        methods = [(name + notes.get(kind, ""), name) for name, kind in kinds.items()
                   if kind != "loader"]
        loaders = [("default: load_checkpoint", _DEFAULT)] + [
            (name, name) for name, kind in kinds.items() if kind == "loader"]
        offered = {name for _, name in methods}
        with self._batch():
            kept = tuple(v for v in self.methods.value if v in offered)
            self.methods.options = methods  # (this clears the selection)
            self.methods.value = kept
            _reset(self.data, [(name, name) for name in _evaluation_first(data)], first=True)
            _reset(self.train_data, [("(choose train data)", _DEFAULT)]
                   + [(name, name) for name in data], first=False)
            _reset(self.load_fn, loaders, first=False)
        if self.num_classes.value == 0:
            self._prefill_classes()
        self._update()

    # ------------------------------------------------------------------ form state
    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Change several fields; observers wait until the end (one validation)."""
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def _on_change(self, change: Any = None) -> None:
        if not self._quiet:
            self._update()

    def _on_data(self, change: Any = None) -> None:
        if not self._quiet:
            self._prefill_classes()
            self._update()

    def _prefill_classes(self) -> None:
        obj = self.namespace.get(self.data.value) if self.data.value else None
        inferred, _ = self._classes_of(obj) if obj is not None else (None, False)
        if inferred is not None:
            with self._batch():
                self.num_classes.value = inferred

    def _classes_of(self, data: Any) -> tuple[int | None, bool]:
        """:func:`_infer_classes`, read once per data object (the form validates often)."""
        cached = self._classes.get(id(data))
        if cached is None or cached[0] is not data:
            cached = self._classes[id(data)] = (data, _infer_classes(data))
        return cached[1]

    def set(self, **fields: Any) -> None:
        """Fill fields in code, as a user would in the form (the twin of typing).

        Parameters
        ----------
        **fields
            ``methods`` (namespace names), ``seeds`` (text like ``"0-4"`` or a list of
            ints), ``data``, ``train_data``, ``load_fn`` (namespace names), ``task``,
            ``num_classes``, ``test``, ``alpha``, ``reference``, ``working_dir``,
            ``launcher`` (None for in-process), ``epochs``, ``lr``; and the settings without a
            field, shown in the code: ``metrics`` (list of names), ``predict_fn`` (a
            namespace name), ``ignore_index`` (int).

        Raises
        ------
        MushinKeyError
            An unknown field.
        MushinValueError
            A value the field cannot show (a name not in the namespace, an unknown test).
        """
        for name in fields:
            if name not in _LABELS and name not in _EXTRAS:
                raise MushinKeyError(f"unknown field {name!r}. Known fields: "
                                     f"{', '.join(list(_LABELS) + list(_EXTRAS))}. Fix: use "
                                     "one of them.")
        # the reference is one of the methods: set it once they are
        order = sorted(fields, key=lambda name: name == "reference")
        with self._batch():
            for name in order:
                self._set_one(name, fields[name])
        if "data" in fields and "num_classes" not in fields:
            self._prefill_classes()
        self._update()

    def _set_one(self, name: str, value: Any) -> None:
        if name in _EXTRAS:
            self._extras[name] = _check_extra(name, value, self.namespace)
            return
        widget = self._fields[name]
        if name == "reference":
            labels = [self._label(method) for method in self.methods.value]
            if value not in labels:
                raise bad_value("reference", value, f"one of the chosen methods {labels}",
                                "choose the method first, or leave the reference to the first")
            self._wanted_reference = value
            return
        if name == "methods":
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise bad_value("methods", value, "a list of namespace names",
                                "e.g. methods=['train_cnn', 'train_mlp']", MushinTypeError)
            value = tuple(value)
            offered = [v for _, v in self.methods.options]
            unknown = [v for v in value if v not in offered]
            if unknown:
                raise bad_value("methods", unknown[0], "the name of a train_fn or module of "
                                f"the namespace ({', '.join(offered) or 'none found'})",
                                "define it in the notebook, then call refresh()")
        elif name == "seeds" and not isinstance(value, str):
            value = format_seeds(value)
        elif name in ("launcher", "load_fn", "train_data") and value is None:
            value = _DEFAULT
        elif name == "working_dir" and isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(widget, widgets.Dropdown):
            values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
            if value not in values:
                raise bad_value(name, value, f"one of {values}",
                                "define it in the notebook, then call refresh()"
                                if name in ("data", "train_data", "load_fn") else
                                "pick one of the listed values")
        try:
            widget.value = value
        except Exception as exc:  # a trait refusing the type (e.g. text into an IntText)
            raise bad_value(name, value, f"a value the {_LABELS[name]} field takes",
                            str(exc), MushinTypeError) from None

    def _update(self) -> None:
        """Bring the dependent fields in line, then validate and enable Run accordingly."""
        with self._batch():
            labels = [self._label(name) for name in self.methods.value]
            wanted = self._wanted_reference or self.reference.value
            self.reference.options = labels
            self.reference.value = wanted if wanted in labels else (labels[0] if labels
                                                                    else None)
            self._wanted_reference = None
        needs_training = any(self._kinds.get(name) == "module" for name in self.methods.value)
        self._train_box.layout.display = "" if needs_training else "none"
        self._errors = self._validate()
        for name, message in self._messages.items():
            message.value = _html_error(self._errors.get(name, ""))
        running = self.running
        self.run_button.disabled = bool(self._errors) or running
        if self.code_box.layout.display != "none":
            self.code_box.value = self._code_html()

    def _label(self, name: str) -> str:
        return self._labels.get(name, name)

    @property
    def errors(self) -> dict[str, str]:
        """Field -> what is wrong with it (checked now); empty when the form can run."""
        self._update()
        return dict(self._errors)

    def _validate(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        chosen = list(self.methods.value)
        if not chosen:
            errors["methods"] = "pick at least one method (Ctrl/Shift-click for several)"
        for name in chosen:
            if name not in self.namespace or _kind(self.namespace[name], self._home) in (
                    None, "loader"):
                errors["methods"] = f"{name!r} is no longer a train_fn of the namespace: " \
                                    "click Refresh"
        labels = [self._label(name) for name in chosen]
        slugs = [_slug(label).lower() for label in labels]
        if len(set(slugs)) != len(slugs):
            errors["methods"] = "two methods have the same name once made safe for paths"
        try:
            seeds = parse_seeds(self.seeds.value)
        except MushinValueError as exc:
            errors["seeds"] = _short(exc)
            seeds = []
        else:
            if len(seeds) < 2:
                errors["seeds"] = "a test needs at least 2 seeds per method: add seeds, e.g. 0-2"
        data = self.namespace.get(self.data.value) if self.data.value else None
        if data is None:
            errors["data"] = "define a DataLoader of the evaluation data, then click Refresh"
        if any(self._kinds.get(name) == "module" for name in chosen):
            if not self.train_data.value or self.train_data.value not in self.namespace:
                errors["train_data"] = "the nn.Module methods need train data: pick a DataLoader"
            if self.epochs.value < 1:
                errors["epochs"] = "at least 1 epoch"
            if not (math.isfinite(self.lr.value) and self.lr.value > 0):
                errors["lr"] = "a positive learning rate, e.g. 0.001"
        if self.load_fn.value and self.load_fn.value not in self.namespace:
            errors["load_fn"] = "no longer in the namespace: click Refresh"
        n = self.num_classes.value
        sources = {"data": data}
        if any(self._kinds.get(m) == "module" for m in chosen) and "train_data" not in errors:
            sources["train_data"] = self.namespace[self.train_data.value]
        if n < 1:
            errors["num_classes"] = "a positive number of classes, e.g. 10"
        for source, obj in sources.items():
            mismatch = _classes_mismatch(n, *self._classes_of(obj)) \
                if obj is not None and n >= 1 else None
            if mismatch:
                errors["num_classes"] = f"the {_LABELS[source].lower()} {mismatch}"
                break
        if not (math.isfinite(self.alpha.value) and 0 < self.alpha.value < 1):
            errors["alpha"] = "alpha must be in (0, 1), e.g. 0.05"
        if "num_classes" not in errors:
            try:
                from mushin_nb.metrics import Battery

                Battery(n, task=self.task.value, metrics=self._extras["metrics"],
                        ignore_index=self._extras["ignore_index"])
            except Exception as exc:
                errors["task"] = _short(exc)
        text = self.working_dir.value.strip()
        if not text:
            errors["working_dir"] = "a folder for the sweep and checkpoints, e.g. study"
        elif not self.running:
            path = Path(text).expanduser()
            blocked = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()),
                           None)
            if blocked is not None:
                errors["working_dir"] = f"{str(blocked)!r} is a file: pick another folder"
        return errors


def _reset(dropdown: Any, options: list[tuple[str, str]], first: bool) -> None:
    """New options for ``dropdown``, keeping its value when still offered."""
    value = dropdown.value
    values = [v for _, v in options]
    dropdown.options = options
    if value in values:
        dropdown.value = value
    elif values:
        dropdown.value = values[0] if first or _DEFAULT in values else None
    else:
        dropdown.value = None


def _evaluation_first(names: list[str]) -> list[str]:
    """Data names with the likely evaluation sets (test, then validation) first."""
    def rank(name: str) -> int:
        lowered = name.lower()
        return 0 if "test" in lowered else 1 if "val" in lowered or "eval" in lowered else 2

    return sorted(names, key=rank)


def _classes_mismatch(n: int, inferred: int | None, exact: bool) -> str | None:
    """Why ``n`` classes cannot be right for data of ``inferred`` classes, or None."""
    if inferred is None or (n == inferred if exact else n >= inferred):
        return None
    what = f"has {inferred} classes" if exact else f"has labels up to {inferred - 1}"
    return f"{what}: set {inferred}"


def _check_extra(name: str, value: Any, namespace: Mapping[str, Any]) -> Any:
    if value is None:
        return None
    if name == "metrics":
        if isinstance(value, str) or not isinstance(value, Sequence) \
                or not all(isinstance(v, str) for v in value):
            raise bad_value("metrics", value, "a list of metric names (the form writes them "
                            "as literals)", "e.g. metrics=['accuracy', 'f1']", MushinTypeError)
        return list(value)
    if name == "ignore_index":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad_value("ignore_index", value, "an int or None", "e.g. ignore_index=255",
                            MushinTypeError)
        return int(value)
    if not isinstance(value, str) or not _is_identifier(value) or value not in namespace:
        raise bad_value("predict_fn", value, "the name of a function in the namespace",
                        "define it, then pass its name", MushinValueError)
    return value


def _short(exc: BaseException) -> str:
    """An error message without the argument preamble, for a field's note."""
    text = str(exc)
    match = re.match(r"`[^`]+` must be (.*), got (.*?)\. Fix: (.*)$", text, re.S)
    if match:
        return f"must be {match.group(1)}: {match.group(3)}"
    return text
