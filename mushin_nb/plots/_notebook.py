"""HoloViews for the figures, drawn in a notebook with nothing fetched from outside the machine.

See "Drawing offline" in :mod:`mushin_nb.plots` for what :func:`offline_notebook` changes.
"""

from __future__ import annotations

import html
import io
import re
import sys
import warnings
from typing import Any

_STATE = {"tried": False}
_CDN_ICON = re.compile(r"""<link rel="(?:apple-touch-icon|icon)"[^>]*href="https?://[^"]*"[^>]*>\n?""")


def holoviews() -> Any:
    """The ``holoviews`` module with the bokeh backend loaded (offline in a notebook)."""
    import holoviews as hv

    if not _STATE["tried"]:
        offline_notebook()
    return hv


def _kernel() -> Any:
    """The IPython shell of a Jupyter kernel this process runs in, or None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def offline_notebook() -> bool:
    """Load HoloViews' bokeh extension so that figures draw with no request leaving the machine.

    In a Jupyter kernel: sets ``panel.config.inline`` and HoloViews'
    ``notebook_extension.inline`` to True and publishes BokehJS and Panel's JavaScript
    inline; if that fails, figures fall back to :func:`standalone_html` (a warning says
    why).  Elsewhere it only loads the bokeh backend, as ``import hvplot.pandas`` does.
    Every hvplot figure of this module calls it once per process.

    Returns
    -------
    bool
        True when the inline extension was loaded into a notebook.

    Examples
    --------
    >>> offline_notebook()  # not in a Jupyter kernel: nothing to load into a page
    False
    """
    import holoviews as hv

    _STATE["tried"] = True
    shell = _kernel()
    if shell is None:
        if hv.Store.current_backend != "bokeh" or "bokeh" not in hv.Store.renderers:
            hv.extension("bokeh", logo=False)
        return False
    try:
        import panel as pn
        from holoviews.ipython import notebook_extension

        pn.config.inline = True
        notebook_extension.inline = True  # later hv.extension / hvplot imports stay offline
        _hook_stylesheets()
        hv.extension("bokeh", logo=False, inline=True)
    except Exception as exc:  # any failure: a self-contained figure beats a blank one
        warnings.warn(f"the interactive figures could not load BokehJS inline "
                      f"({type(exc).__name__}: {exc}); they are drawn as self-contained "
                      "pages instead", UserWarning, stacklevel=3)
        fall_back(shell.display_formatter)
        return False
    return True


def _inline_stylesheets(viewable: Any, root: Any) -> None:
    """Panel preprocessing hook: while ``panel.config.inline``, CDN stylesheets become inline."""
    import panel as pn

    if not pn.config.inline:
        return
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)


def _hook_stylesheets() -> None:
    """Panel's own notebook output inlines its stylesheets; HoloViews' does not: add it."""
    from panel.viewable import Viewable

    if _inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_stylesheets)


def fall_back(display_formatter: Any) -> None:
    """Show every HoloViews object through :func:`standalone_html` in ``display_formatter``."""
    from holoviews.core.dimension import Dimensioned

    display_formatter.mimebundle_formatter.for_type(Dimensioned, _iframe_bundle)


def _iframe_bundle(obj: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    page = standalone_html(obj)
    return {"text/html": f'<iframe srcdoc="{html.escape(page, quote=True)}" '
                         'style="width: 100%; height: 640px; border: 0"></iframe>',
            "text/plain": repr(obj)}


def standalone_html(obj: Any, title: str = "mushin_nb figure") -> str:
    """A self-contained HTML page drawing ``obj``: every script and style inline, widgets embedded.

    This is how ``report.html`` is written; the page draws with no network at all.

    Parameters
    ----------
    obj : holoviews object
        A figure of this module (or any HoloViews object).
    title : str
        The page's title.

    Returns
    -------
    str
    """
    import panel as pn

    holoviews()
    _hook_stylesheets()
    out = io.StringIO()
    with pn.config.set(inline=True):
        pn.panel(obj, linked_axes=False).save(out, embed=True, progress=False,
                                              resources="inline", title=title)
    # Panel's page template points its favicons at its CDN: a browser would ask for them
    return _CDN_ICON.sub("", out.getvalue())
