"""The StudyBuilder's background run: Run, Stop and wait, with one live monitor per phase.

The Study runs in a thread, so the kernel keeps answering the Stop button and the live
:class:`~mushin_nb.notebook.widgets.SweepMonitor`. Stop is a file in the working dir that
the train_fns check before they start, so it reaches every launcher's workers.
"""

from __future__ import annotations

import copy
import html
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mushin_nb.errors import JobSkipped, MushinRuntimeError
from mushin_nb.notebook.builder.views import _error_html, _html_error


class _StopFlag:
    """A stop request that every launcher's workers can see: a file in the working dir."""

    def __init__(self, working_dir: Path) -> None:
        self.path = str(working_dir / ".mushin" / f"stop-{uuid.uuid4().hex}")

    def set(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path).touch()

    def is_set(self) -> bool:
        return os.path.exists(self.path)

    def clear(self) -> None:
        Path(self.path).unlink(missing_ok=True)


class _StopCheck:
    """Raises JobSkipped once Stop was asked (picklable for process launchers)."""

    def __init__(self, flag_path: str) -> None:
        self.flag_path = flag_path

    def __call__(self) -> None:
        if os.path.exists(self.flag_path):
            raise JobSkipped("the StudyBuilder's Stop ended the study before this training "
                             "started; run the study again to train it")


class _Stoppable:
    """A train_fn that refuses to start once Stop was asked (picklable for process launchers)."""

    def __init__(self, fn: Callable[[int], Any], flag_path: str) -> None:
        self.fn, self.check = fn, _StopCheck(flag_path)
        self.__wrapped__ = fn  # the Study fingerprints the user's train_fn, not this wrapper

    def __call__(self, seed: int) -> Any:
        self.check()
        return self.fn(seed)


def _stoppable(fn: Callable[[int], Any], flag_path: str) -> Any:
    """``fn`` made to stop on the flag; a SeedTrainer stays one (a copy), so that the Study
    still trains its seeds together."""
    from mushin_nb.study import is_seed_trainer

    if not is_seed_trainer(fn):
        return _Stoppable(fn, flag_path)
    trainer = copy.copy(fn)
    trainer.stop = _StopCheck(flag_path)
    return trainer


class _Monitors:
    """The progress sink of a run: one SweepMonitor per phase (training, then evaluation),
    each kept in ``box``, so the training grid stays readable once the evaluation starts."""

    def __init__(self, box: Any, on_phase: Callable[[str], None]) -> None:
        from mushin_nb.notebook.widgets import SweepMonitor

        self._new = lambda: SweepMonitor(display=False)
        self.box, self.on_phase = box, on_phase
        self.current, self.started = self._new(), False
        box.children = (self.current,)  # shown at once, queued until the sweep starts

    def start(self, labels: Sequence[str], title: str = "") -> None:
        if self.started:
            self.current = self._new()
            self.box.children = (*self.box.children, self.current)
            self.on_phase("evaluating")
        self.started = True
        self.current.start(labels, title)

    def job_start(self, index: int) -> None:
        self.current.job_start(index)

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        self.current.job_report(index, step, total, metrics)

    def job_end(self, index: int, status: str, error: str | None = None) -> None:
        self.current.job_end(index, status, error)

    def job_devices(self, index: int, devices: Sequence[str]) -> None:
        self.current.job_devices(index, devices)

    def watch(self, index: int, event_file: str) -> None:
        self.current.watch(index, event_file)

    def close(self, ok: bool = True) -> None:
        self.current.close(ok)


class _Run:
    """Running the Study of a :class:`~mushin_nb.notebook.builder.StudyBuilder`'s form in the
    background, with Stop; the form, its Study and the result tabs come from the other parts."""

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """True while a run started by the Run button trains or compares."""
        return self._active

    def run(self, block: bool = False) -> Any:
        """Build the Study and run it (the Run button).

        Parameters
        ----------
        block : bool
            ``True``: run here and return the result, raising what the Study raises.
            ``False``: run in a background thread and return None at once; the kernel
            stays free (Stop works); :meth:`wait` waits for the result.

        Returns
        -------
        BenchmarkResult or None

        Raises
        ------
        MushinValueError
            The form has invalid fields.
        MushinRuntimeError
            A run is already going on.
        """
        if self.running:
            raise MushinRuntimeError("The StudyBuilder is already running a study. Fix: wait "
                                     "for it (builder.wait()) or stop it (builder.stop()).")
        study = self.to_study()
        self.study, self.result, self.error = study, None, None
        self._flag = _StopFlag(study.working_dir)
        self.monitor_box.children = ()
        study.progress = _Monitors(self.monitor_box,
                                   lambda phase: self._set_status(f"running: {phase}..."))
        self._active = True
        self._done.clear()
        self.error_box.value = ""
        self.results.layout.display = "none"
        self._set_status("running: training...")
        self.run_button.disabled, self.stop_button.disabled = True, False
        if block:
            self._work(study, self._flag)
            if self.error is not None:
                raise self.error
            return self.result
        self._thread = threading.Thread(target=self._work, args=(study, self._flag),
                                        name="mushin-nb-study-builder", daemon=True)
        self._thread.start()
        return None

    def stop(self) -> None:
        """End the running study after the training under way (the Stop button).

        Trainings not started are skipped (recorded as skipped, so a later run trains
        them); the comparison of what finished still runs.
        """
        if not self.running or self._flag is None:
            return
        self._flag.set()
        self.stop_button.disabled = True
        self._set_status("stopping after the running training...")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the background run; return its result or raise its error.

        Raises
        ------
        MushinRuntimeError
            ``timeout`` seconds passed first.
        """
        if not self._done.wait(timeout):
            raise MushinRuntimeError(f"The study still runs after {timeout} s. Fix: wait "
                                     "longer, or call builder.stop().")
        if self.error is not None:
            raise self.error
        return self.result

    def _work(self, study: Any, flag: _StopFlag) -> None:
        started = time.monotonic()
        original = study.methods
        study.methods = {name: _stoppable(fn, flag.path) for name, fn in original.items()}
        try:
            result = study.run()
        except BaseException as exc:  # shown in the form: a thread's error must not vanish
            self.error = exc
            self.error_box.value = _error_html(exc)
            elapsed = time.monotonic() - started
            self._set_status(f"stopped after {elapsed:.1f} s: too few trainings finished to "
                             "compare" if flag.is_set() else f"failed after {elapsed:.1f} s")
        else:
            self.result = result
            stopped = flag.is_set()
            try:
                self._show_results(result)
            except Exception as exc:  # a plot failing must not hide the result
                self.error_box.value = _html_error(f"showing the result: {exc}")
            stale = study.stale
            if stale:  # the warning went to the thread's stderr: say it in the form too
                listed = "; ".join(f"{m} (seeds {', '.join(map(str, s))})"
                                   for m, s in stale.items())
                self.error_box.value = _html_error(
                    f"Reused checkpoints were trained by older code or settings: {listed}. "
                    "Fix: to retrain them, choose a new working folder.")
            missing = len(getattr(result, "missing", ()))
            state = "stopped" if stopped else "done"
            left = f", {missing} training(s) left out" if missing else ""
            self._set_status(f"{state} in {time.monotonic() - started:.1f} s{left}")
        finally:
            study.methods = original
            flag.clear()
            self._active = False
            try:
                self.stop_button.disabled = True
                self._update()
            finally:  # waiters are released whatever the display does
                self._done.set()

    def _set_status(self, text: str) -> None:
        self.status.value = f"<span>{html.escape(text)}</span>"
