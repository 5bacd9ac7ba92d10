"""Model: a ``torch.nn.Module`` whose parameters and gradients live in two flat vectors.

Every parameter of the wrapped module is a view into one contiguous vector
(:meth:`Model.get`), and every gradient a view into another
(:meth:`Model.get_gradient`), so a training loop can read, aggregate and write whole
models as single tensors, as robust distributed SGD does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import torch

from mushin_nb.errors import (
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.experiments.configuration import Configuration
from mushin_nb.experiments.registry import Registry, models

__all__ = ["Model", "flatten", "relink"]

_DEFAULTS = ("trainset", "testset", "loss", "criterion", "optimizer")


def relink(tensors: Iterable[torch.Tensor], common: torch.Tensor) -> torch.Tensor:
    """Make each tensor of ``tensors`` a view of its segment of the flat ``common``.

    Examples
    --------
    >>> a, b = torch.zeros(2), torch.zeros(1, 2)
    >>> flat = relink([a, b], torch.arange(4.0))
    >>> b
    tensor([[2., 3.]])
    >>> flat[0] = 9.0
    >>> a
    tensor([9., 1.])
    """
    tensors = tuple(tensors)
    total = sum(tensor.numel() for tensor in tensors)
    if common.dim() != 1 or common.numel() != total:
        raise bad_value(
            "common",
            common,
            f"a flat (1-D) tensor of {total} elements, not shape {tuple(common.shape)}",
            "pass a vector shaped like Model.get()",
        )
    position = 0
    for tensor in tensors:
        end = position + tensor.numel()
        tensor.data = common[position:end].view(tensor.shape)
        position = end
    return common


def flatten(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """Copy ``tensors`` into one new flat vector and relink them to it.

    Examples
    --------
    >>> a, b = torch.ones(2), torch.full((1, 2), 2.0)
    >>> flat = flatten([a, b])
    >>> flat
    tensor([1., 1., 2., 2.])
    >>> flat.mul_(10)
    tensor([10., 10., 20., 20.])
    >>> b
    tensor([[20., 20.]])
    """
    tensors = tuple(tensors)
    common = torch.cat([tensor.detach().reshape(-1) for tensor in tensors])
    return relink(tensors, common)


_relink = relink  # Model.set's `relink` argument shadows the function


def _inits() -> dict[str, Callable[..., Any]]:
    # in-place initializers of torch.nn.init, named without their trailing "_"
    return {
        name[:-1]: getattr(torch.nn.init, name)
        for name in dir(torch.nn.init)
        if name.endswith("_")
        and not name.startswith("_")
        and callable(getattr(torch.nn.init, name))
    }


def _make_init(
    arg: str, init: str | Callable[[torch.Tensor], Any] | None, kwargs: dict | None
) -> Callable[[torch.Tensor], Any] | None:
    if init is None or callable(init):
        return init
    if not isinstance(init, str):
        raise bad_value(arg, init, "an initializer name, a callable or None", cls=MushinTypeError)
    known = _inits()
    if init not in known:
        raise MushinKeyError(
            f"Unknown initializer name {init!r} for `{arg}`. Known initializer names: "
            f"{', '.join(sorted(known))}. Fix: use one of them (torch.nn.init without the '_')."
        )
    function, kwargs = known[init], dict(kwargs or {})
    return lambda tensor: function(tensor, **kwargs)


class Model:
    """A model whose parameters and gradients are flat vectors.

    Parameters
    ----------
    name_build : str or callable
        A registered model name (see :func:`~mushin_nb.experiments.register_model`;
        built-ins: ``"digits-mlp"``, ``"digits-cnn"``, ``"simples-full"``,
        ``"simples-conv"``, ``"simples-logit"``, ``"simples-linear"``), a torchvision
        model name (``"resnet18"`` or ``"torchvision-resnet18"``), or a callable
        returning a ``torch.nn.Module``.
    config : Configuration, optional
        Device and dtype of the parameters; ``None`` is ``Configuration()``.
    init_multi, init_mono : str or callable, optional
        Initializer of the parameters of dimension >= 2, resp. == 1: a name of
        ``torch.nn.init`` without the trailing ``_`` (``"xavier_normal"``) or a callable
        modifying a tensor in place.
    init_multi_args, init_mono_args : dict, optional
        Keyword arguments of the named initializers.
    *args, **kwargs
        Forwarded to the builder.
    seed : int, optional (keyword only)
        Build and initialize under this torch seed, without touching the global RNG
        state; ``None`` uses torch's global RNG like the builder would.

    Examples
    --------
    >>> model = Model("digits-mlp", Configuration("cpu"), hidden=4, seed=0)
    >>> flat = model.get()
    >>> flat.shape  # 64*4 + 4 + 4*10 + 10
    torch.Size([310])
    >>> first = next(model.module.parameters())
    >>> first.data_ptr() == flat.data_ptr()  # parameters are views of the flat vector
    True
    >>> model.set(torch.zeros_like(flat))
    >>> float(first.detach().abs().sum())
    0.0
    """

    def __init__(
        self,
        name_build: str | Callable[..., torch.nn.Module],
        config: Configuration | None = None,
        init_multi: str | Callable[[torch.Tensor], Any] | None = None,
        init_multi_args: dict | None = None,
        init_mono: str | Callable[[torch.Tensor], Any] | None = None,
        init_mono_args: dict | None = None,
        *args: Any,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        config = Configuration() if config is None else config
        if not isinstance(config, Configuration):
            raise bad_value(
                "config",
                config,
                "a Configuration",
                "use Configuration(device=...)",
                MushinTypeError,
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise bad_value("seed", seed, "an int or None", cls=MushinTypeError)
        build, name = _builder_of(models, name_build, "name_build")
        multi = _make_init("init_multi", init_multi, init_multi_args)
        mono = _make_init("init_mono", init_mono, init_mono_args)
        rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
        with rng, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            module = build(*args, **kwargs)
            if not isinstance(module, torch.nn.Module):
                raise bad_value(
                    "name_build",
                    name_build,
                    f"a builder of torch.nn.Module (it built {type(module).__name__})",
                    "return a torch.nn.Module from the builder",
                    MushinTypeError,
                )
            for param in module.parameters():
                init = multi if param.dim() > 1 else mono
                if init is not None:
                    init(param)
        module = module.to(**config)
        params = list(module.parameters())
        if not params:
            raise bad_value(
                "name_build", name_build, "a model with parameters", "add a trainable layer"
            )
        if len({param.dtype for param in params}) > 1:
            raise MushinValueError(
                f"Model {name!r} mixes parameter dtypes {sorted({str(p.dtype) for p in params})}; "
                "a flat vector needs one. Fix: pass Configuration(dtype=...)."
            )
        self._model = module
        self._name = name
        self._config = config
        self._params = flatten(params)
        self._gradient: torch.Tensor | None = None
        self._defaults: dict[str, Any] = dict.fromkeys(_DEFAULTS)

    def __str__(self) -> str:
        return f"model {self._name}"

    def __repr__(self) -> str:
        return f"Model({self._name!r}, {self._config!r})"

    @property
    def config(self) -> Configuration:
        """The (immutable) configuration of the parameters."""
        return self._config

    @property
    def module(self) -> torch.nn.Module:
        """The wrapped ``torch.nn.Module`` (its parameters are views of :meth:`get`)."""
        return self._model

    @property
    def name(self) -> str:
        """The model name, or the qualified name of its builder."""
        return self._name

    def default(self, name: str, new: Any = None, erase: bool = False) -> Any:
        """Get, and set when ``new`` is given (or ``erase``), a named default.

        Names: ``"trainset"``, ``"testset"``, ``"loss"``, ``"criterion"``,
        ``"optimizer"``; they stand in for the arguments left out of :meth:`loss`,
        :meth:`backprop`, :meth:`eval` and :meth:`update`. Returns the old value.
        """
        if name not in self._defaults:
            raise MushinKeyError(
                f"Unknown model default {name!r}. Known defaults: {', '.join(_DEFAULTS)}. "
                "Fix: use one of them."
            )
        old = self._defaults[name]
        if erase or new is not None:
            self._defaults[name] = new
        return old

    def _resolve(self, **kwargs: Any) -> list[Any]:
        values = []
        for name, value in kwargs.items():
            if value is None:
                value = self._defaults[name]
                if value is None:
                    raise MushinRuntimeError(
                        f"No {name} given and no default {name} set on {self}. "
                        f"Fix: pass it, or call model.default({name!r}, ...) once."
                    )
            values.append(value)
        return values

    def run(self, data: Any, training: bool = False) -> Any:
        """Run the module on ``data``, in training mode or in evaluation mode.

        Gradient recording is left as the caller set it.
        """
        self._model.train(training)
        return self._model(data)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    def get(self) -> torch.Tensor:
        """The flat parameter vector, by reference (writing to it moves the module)."""
        return self._params

    def set(self, params: torch.Tensor, relink: bool | None = None) -> None:
        """Overwrite the parameters with the flat vector ``params``.

        ``relink=True`` (default: ``config.relink``) makes the module use ``params``
        itself as storage instead of copying it.
        """
        if params is self._params:
            return
        self._check_flat("params", params, self._params)
        if self._config.relink if relink is None else relink:
            self._check_storage("params", params, self._params)
            self._params = _relink(self._model.parameters(), params)
        else:
            self._params.copy_(params, non_blocking=self._config["non_blocking"])

    def get_gradient(self) -> torch.Tensor:
        """The flat gradient, by reference; zeros where no gradient was computed yet."""
        params = list(self._model.parameters())
        gradient = self._gradient
        if gradient is not None and self._linked(params, gradient):
            return gradient
        # a gradient replaced by torch (e.g. zero_grad(set_to_none=True)) is copied back in
        gradient = torch.zeros_like(self._params)
        position = 0
        for param in params:
            end = position + param.numel()
            view = gradient[position:end].view(param.shape)
            if param.grad is not None:
                view.copy_(param.grad.detach())
            param.grad = view
            position = end
        self._gradient = gradient
        return gradient

    @staticmethod
    def _linked(params: list[torch.nn.Parameter], gradient: torch.Tensor) -> bool:
        position = 0
        for param in params:
            grad = param.grad
            if grad is None or grad.data_ptr() != gradient[position:].data_ptr():
                return False
            position += param.numel()
        return True

    def set_gradient(self, gradient: torch.Tensor, relink: bool | None = None) -> None:
        """Overwrite the gradient with the flat vector ``gradient`` (copy or relink)."""
        current = self.get_gradient()
        if gradient is current:
            return
        self._check_flat("gradient", gradient, current)
        if self._config.relink if relink is None else relink:
            self._check_storage("gradient", gradient, current)
            params = list(self._model.parameters())
            position = 0
            for param in params:
                end = position + param.numel()
                param.grad = gradient[position:end].view(param.shape)
                position = end
            self._gradient = gradient
        else:
            current.copy_(gradient, non_blocking=self._config["non_blocking"])

    def _check_flat(self, arg: str, value: Any, like: torch.Tensor) -> None:
        if not isinstance(value, torch.Tensor):
            raise bad_value(arg, value, "a torch.Tensor", cls=MushinTypeError)
        if value.shape != like.shape:
            raise MushinValueError(
                f"`{arg}` must be a flat vector of shape {tuple(like.shape)} "
                f"({like.numel()} elements, like Model.get()), got shape {tuple(value.shape)}. "
                "Fix: pass a vector shaped like model.get() (use .reshape(-1))."
            )

    @staticmethod
    def _check_storage(arg: str, value: torch.Tensor, like: torch.Tensor) -> None:
        if (value.dtype, value.device) != (like.dtype, like.device):
            raise MushinValueError(
                f"`{arg}` must be {like.dtype} on {like.device} to be relinked, got "
                f"{value.dtype} on {value.device}. Fix: convert it with .to(**model.config), "
                "or pass relink=False to copy it."
            )

    def loss(self, dataset: Any = None, loss: Any = None, training: bool | None = None) -> Any:
        """Loss at the current parameters on the next batch of ``dataset``.

        ``training=None`` means training mode exactly when gradients are recorded;
        the module runs in that mode (dropout, batch norm behave accordingly). Losses
        reading ``params`` (``"l1"``, ``"l2"``) get the parameters as a differentiable
        flat vector when gradients are recorded.
        """
        dataset, loss = self._resolve(trainset=dataset, loss=loss)
        inputs, targets = _split_batch(dataset.sample(self._config))
        if training is None:
            training = torch.is_grad_enabled()
        params = self._params
        if torch.is_grad_enabled() and getattr(loss, "uses_params", True):
            # the flat vector is storage, not a graph node: regularizers need one that is
            params = torch.cat([param.reshape(-1) for param in self._model.parameters()])
        return loss(self.run(inputs, training=training), targets, params)

    def backprop(
        self, dataset: Any = None, loss: Any = None, outloss: bool = False, **kwargs: Any
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """Gradient (flat, by reference) of the loss on the next batch; with the loss if
        ``outloss``. ``kwargs`` go to ``Tensor.backward``."""
        with torch.enable_grad():
            self.get_gradient().zero_()
            value = self.loss(dataset=dataset, loss=loss, training=True)
            value.backward(**kwargs)
        gradient = self.get_gradient()
        return (gradient, value) if outloss else gradient

    def update(
        self, gradient: torch.Tensor, optimizer: Any = None, relink: bool | None = None
    ) -> None:
        """Set the gradient to ``gradient`` and take one optimizer step."""
        (optimizer,) = self._resolve(optimizer=optimizer)
        self.set_gradient(gradient, relink=relink)
        optimizer.step()

    @torch.no_grad()
    def eval(self, dataset: Any = None, criterion: Any = None) -> Any:
        """The criterion (e.g. ``[num_correct, batch_size]``) on the next batch, in
        evaluation mode and without recording gradients."""
        dataset, criterion = self._resolve(testset=dataset, criterion=criterion)
        inputs, targets = _split_batch(dataset.sample(self._config))
        return criterion(self.run(inputs, training=False), targets)


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise bad_value(
            "batch",
            batch,
            "a pair (inputs, targets)",
            "make the dataset yield (inputs, targets) tuples",
        )
    return batch[0], batch[1]


def _builder_of(registry: Registry, name_build: Any, arg: str) -> tuple[Callable[..., Any], str]:
    """Return ``(builder, name)`` for a registered name or a callable."""
    if callable(name_build):
        qualname = getattr(name_build, "__qualname__", type(name_build).__qualname__)
        return name_build, f"{getattr(name_build, '__module__', '?')}.{qualname}"
    if not isinstance(name_build, str):
        raise bad_value(
            arg, name_build, f"a {registry.kind} name or a callable", cls=MushinTypeError
        )
    return registry[name_build], name_build
