"""Tessera from Python: compile ONNX models, inspect and run the packages.

The package links Tessera's compiler (MLIR 22's ``libMLIR.so``) and its
runtime into one native module; everything the command-line tools do is
reachable from here without files in between::

    import numpy as np
    import tessera

    pkg = tessera.compile("model.onnx", input_shapes={"input_ids": (2, 16)},
                          mesh={"tp": 2})
    with tessera.Session(pkg, ranks=2) as session:
        logits = session.run({"input_ids": ids})["logits"]

Errors of the compiler raise :class:`CompileError` with the compiler's
message; bad arguments raise ``ValueError``/``TypeError``; failures of a run
raise :class:`RuntimeError`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _tessera

__all__ = [
    "CompileError",
    "Package",
    "Session",
    "TensorSpec",
    "TrainResult",
    "compile",
    "from_torch",
]

__version__ = "0.1.0"

PathLike = Union[str, "os.PathLike[str]"]

_NUMPY_DTYPES = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "f16": np.dtype(np.float16),
    "i8": np.dtype(np.int8),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),
}

_MESH_AXES = ("dp", "tp", "pp")


class CompileError(Exception):
    """The compiler refused the model or the options; the message is the compiler's."""


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output as the caller sees it: the whole tensor (data
    parallelism and micro-batches split it inside the package)."""

    name: str
    dtype: str  #: Tessera's element type name: f32, f16, bf16, f64, i8, i32, i64, bool
    shape: Tuple[int, ...]

    @property
    def numpy_dtype(self) -> np.dtype:
        """The NumPy element type of this tensor (bf16 has none: ``ValueError``)."""
        if self.dtype not in _NUMPY_DTYPES:
            raise ValueError(f"tensor '{self.name}' is {self.dtype}, which NumPy does not hold")
        return _NUMPY_DTYPES[self.dtype]


def _specs(rows: Sequence[Tuple[str, str, Sequence[int]]]) -> List[TensorSpec]:
    return [TensorSpec(name, dtype, tuple(int(d) for d in shape)) for name, dtype, shape in rows]


class Package:
    """A compiled package (``.tpkg``): the plan, the kernels of every rank and
    the weights (or references to them)."""

    def __init__(self, path: PathLike, *, _temporary: Optional[str] = None) -> None:
        """Opens the package at ``path`` (``Package.load`` is the same)."""
        self._path = os.fspath(path)
        try:
            self._native = _tessera.Package(self._path)
        except ValueError as e:  # a missing file
            raise FileNotFoundError(str(e)) from None
        #: What the compiler printed (warnings, the summary line), when this
        #: package came from :func:`compile`.
        self.compile_log: str = ""
        if _temporary:
            weakref.finalize(self, shutil.rmtree, _temporary, True)

    @classmethod
    def load(cls, path: PathLike) -> "Package":
        """Opens the package at ``path``."""
        return cls(path)

    @property
    def path(self) -> str:
        """Where the package file is."""
        return self._path

    def save(self, path: PathLike) -> None:
        """Copies the package to ``path``; this object then refers to the copy."""
        target = os.fspath(path)
        if os.path.abspath(target) != os.path.abspath(self._path):
            shutil.copyfile(self._path, target)
        self._path = target
        self._native = _tessera.Package(target)

    def inspect(self) -> Dict[str, Any]:
        """What ``tessera-inspect --json`` prints for this package (schema
        ``tessera-inspect/1``): mesh, stages, micro-batches, the prediction and
        per rank its parameters, arena, FLOPs, traffic and kernels."""
        return json.loads(self._native.inspect_json(self._path))

    @property
    def inputs(self) -> List[TensorSpec]:
        """The graph inputs (name, dtype, whole shape)."""
        return _specs(self._native.describe()[0])

    @property
    def outputs(self) -> List[TensorSpec]:
        """The graph outputs (name, dtype, whole shape)."""
        return _specs(self._native.describe()[1])

    @property
    def ranks(self) -> int:
        """How many ranks (devices) the package is planned for."""
        return int(self._native.ranks)

    @property
    def generates(self) -> bool:
        """Whether the package was compiled for text generation (``generate=True``)."""
        return bool(self._native.generation)

    def __repr__(self) -> str:
        return f"tessera.Package({self._path!r}, ranks={self.ranks})"


def _mesh_string(mesh: Union[str, Mapping[str, int]]) -> str:
    if isinstance(mesh, str):
        return mesh
    if not isinstance(mesh, Mapping):
        raise TypeError(f"mesh must be a dict like {{'dp': 2, 'tp': 2}} or a string, not {type(mesh).__name__}")
    parts = []
    for axis, size in mesh.items():
        if axis not in _MESH_AXES:
            raise ValueError(f"unknown mesh axis '{axis}' (axes: dp, tp, pp)")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"mesh axis '{axis}' must be a positive integer, not {size!r}")
        parts.append(f"{axis}={int(size)}")
    if not parts:
        raise ValueError("mesh is empty")
    return ",".join(parts)


def _set_option(opts: Any, name: str, value: Any) -> None:
    """Sets the compile option ``name`` (tessera-compile's ``--name`` with
    dashes as underscores) to ``value`` in the option's own type; ``None``
    leaves its default."""
    flag = "--" + name.replace("_", "-")
    if name.startswith("_") or not hasattr(opts, name):
        raise CompileError(f"unknown option '{flag}' (tessera-compile --help lists them)")
    if value is None:
        return
    current = getattr(opts, name)
    try:
        if isinstance(current, bool):
            value = bool(value)
        elif isinstance(current, int):
            value = int(value)
        elif isinstance(current, float):
            value = float(value)
        elif isinstance(current, str):
            value = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        elif isinstance(current, list):
            value = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    except (TypeError, ValueError) as error:
        raise CompileError(f"option '{flag}': {value!r} is not a {type(current).__name__}: {error}") from None
    setattr(opts, name, value)


def compile(  # noqa: A001 - the name the API fixes
    model: Union[PathLike, Any],
    *,
    input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
    batch: Optional[int] = None,
    seq: Optional[int] = None,
    mesh: Optional[Union[str, Mapping[str, int]]] = None,
    devices: Optional[int] = None,
    cluster: str = "cpu",
    target: str = "cpu",
    dtype: str = "fp32",
    plan_only: bool = False,
    output: Optional[PathLike] = None,
    **options: Any,
) -> Package:
    """Compiles an ONNX model into a package, as ``tessera-compile`` does.

    Args:
        model: the ``.onnx`` file, or an ``onnx.ModelProto``.
        input_shapes: fixed shapes of graph inputs, ``{"input_ids": (4, 128)}``.
        batch, seq: values of symbolic first and second dimensions.
        mesh: a fixed device mesh, ``{"dp": 2, "tp": 2}`` or ``"dp=2,tp=2"``
            (axes dp, tp, pp; ``pp=2:4`` in the string form gives layers per stage).
        devices: plan for this many devices, the compiler choosing the mesh.
        cluster: the machines the plan is made for (preset or JSON file).
        target: ``"cpu"`` or ``"cuda"``.
        dtype: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (``target="cuda"``).
        plan_only: plan a model whose weight files are absent.
        output: where to write the package (default: a temporary file that
            lives as long as the returned object; ``Package.save`` keeps it).
        **options: any other ``tessera-compile`` option, underscores for
            dashes: ``microbatches=4``, ``generate=True, max_seq=64``,
            ``train=True, lr=1e-3``, ``weights="external"``.

    Raises:
        CompileError: the compiler's message (an unknown op, a bad mesh...).
    """
    temporary = None
    if not isinstance(model, (str, os.PathLike)):
        if type(model).__name__ != "ModelProto":
            raise TypeError(f"model must be a path or an onnx.ModelProto, not {type(model).__name__}")
        import onnx  # a ModelProto implies onnx is installed

        temporary = tempfile.mkdtemp(prefix="tessera-")
        path = os.path.join(temporary, "model.onnx")
        onnx.save_model(model, path, save_as_external_data=model.ByteSize() > (1 << 30))
        model = path
    model = os.fspath(model)
    if not os.path.exists(model):
        raise FileNotFoundError(f"no ONNX model at {model}")
    opts = _tessera.CompileOptions()
    opts.input = model
    for name, shape in (input_shapes or {}).items():
        dims = [int(d) for d in shape]
        if any(d < 1 for d in dims):
            raise ValueError(f"input_shapes['{name}'] must hold positive sizes, not {tuple(shape)}")
        opts.input_shape = opts.input_shape + [f"{name}=" + "x".join(str(d) for d in dims)]
    for name, value in (("batch", batch), ("seq", seq), ("devices", devices)):
        _set_option(opts, name, value)
    if mesh is not None:
        opts.mesh = _mesh_string(mesh)
    if cluster != "cpu":
        opts.cluster = str(cluster)
        opts.cluster_given = True
    opts.target = str(target)
    opts.dtype = str(dtype)
    opts.plan_only = bool(plan_only)
    for name, value in options.items():
        if name in ("o", "emit", "help", "version", "input", "output", "cluster_given", "producer"):
            raise ValueError(f"option '{name}' is not available from Python (use output=...)")
        _set_option(opts, name, value)
    if output is None:
        temporary = temporary or tempfile.mkdtemp(prefix="tessera-")
        out = os.path.join(temporary, "model.tpkg")
    else:
        out = os.fspath(output)
    opts.output = out
    code, log = _tessera.compile(opts)
    if code != 0:
        if temporary:
            shutil.rmtree(temporary, True)
        # The compiler's message without its warnings (which stay in the log).
        lines = [line for line in log.splitlines() if line.strip() and not line.startswith("warning:")]
        raise CompileError("\n".join(lines) or f"tessera-compile exited with {code}")
    package = Package(out, _temporary=temporary if output is None else None)
    package.compile_log = log
    if output is not None and temporary:
        shutil.rmtree(temporary, True)
    return package


class Session:
    """Runs a package: every rank of it in this process, ranks as threads.

    ``Session(pkg).run({"input_ids": ids})`` returns the outputs as NumPy
    arrays (the memory the runtime produced, no copy). Generation packages
    also :meth:`generate`, training packages :meth:`train`.
    """

    def __init__(
        self,
        package_or_path: Union[Package, PathLike],
        *,
        ranks: Optional[int] = None,
        backend: str = "cpu",
        threads: Optional[int] = None,
    ) -> None:
        """Loads the package's every rank.

        Args:
            package_or_path: a :class:`Package` or the path of a ``.tpkg``.
            ranks: how many ranks to run (as threads); must be the package's
                (``None``: the package's).
            backend: ``"cpu"``, ``"cuda"`` or ``"cuda-host"`` (the CUDA
                kernels emulated on the host).
            threads: CPU threads of each rank's kernels (``None``:
                ``TESSERA_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the
                cores divided by the ranks). OpenMP reads ``OMP_WAIT_POLICY``
                and ``GOMP_SPINCOUNT`` when the module loads: before importing
                ``tessera``, set ``OMP_WAIT_POLICY=PASSIVE`` when ranks x
                threads exceed the cores, else ``GOMP_SPINCOUNT=10000`` for
                several threads a rank (what ``tessera-run`` chooses).
        """
        self.package = package_or_path if isinstance(package_or_path, Package) else Package(package_or_path)
        if ranks is not None and int(ranks) != self.package.ranks:
            raise ValueError(f"the package is planned for {self.package.ranks} rank(s), ranks={ranks}")
        if backend not in ("cpu", "cuda", "cuda-host"):
            raise ValueError(f"unknown backend '{backend}' (cpu, cuda, cuda-host)")
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be positive, not {threads}")
        self._native = _tessera.Session(self.package._native, backend, int(threads or 0))
        self._profiling = False

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Releases the ranks' memory now (also when the object goes away)."""
        self._native = None

    def _session(self) -> Any:
        if self._native is None:
            raise RuntimeError("the session is closed")
        return self._native

    @property
    def inputs(self) -> List[TensorSpec]:
        """The inputs :meth:`run` takes (name, dtype, whole shape)."""
        return _specs(self._session().inputs())

    @property
    def outputs(self) -> List[TensorSpec]:
        """The outputs :meth:`run` returns."""
        return _specs(self._session().outputs())

    def _set_inputs(self, inputs: Mapping[str, Any]) -> None:
        native = self._session()
        if not isinstance(inputs, Mapping):
            raise TypeError(f"inputs must be a dict of NumPy arrays, not {type(inputs).__name__}")
        specs = {s.name: s for s in self.inputs}
        for name, value in inputs.items():
            spec = specs.get(name)
            if spec is None:
                raise ValueError(f"no input named '{name}' (inputs: {', '.join(specs)})")
            array = np.asarray(value)
            if array.dtype != spec.numpy_dtype:
                raise ValueError(
                    f"input '{name}' must be {spec.numpy_dtype} ({spec.dtype}), got {array.dtype}")
            if tuple(array.shape) != spec.shape:
                raise ValueError(
                    f"input '{name}' must have shape {spec.shape}, got {tuple(array.shape)}")
            native.set_input(name, np.ascontiguousarray(array))
        missing = [n for n in specs if n not in inputs]
        if missing:
            raise ValueError(
                "missing input(s): " + ", ".join(
                    f"'{n}' ({specs[n].dtype} {'x'.join(map(str, specs[n].shape))})" for n in missing))

    def run(self, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """Runs the package once on ``inputs`` (every graph input, by name,
        with its dtype and whole shape) and returns every output by name."""
        self._set_inputs(inputs)
        native = self._session()
        native.run()
        return {spec.name: native.get_output(spec.name) for spec in self.outputs}

    def profile(self, inputs: Optional[Mapping[str, Any]] = None, *, runs: int = 1) -> List[Dict[str, Any]]:
        """Per-kernel times of rank 0: with ``inputs``, ``runs`` runs are
        timed now; without, the runs since profiling was first asked for.
        Rows (op, location, seconds, calls), the slowest first."""
        native = self._session()
        if not self._profiling:
            native.enable_profiling(True)
            self._profiling = True
        if inputs is not None:
            for _ in range(max(1, int(runs))):
                self.run(inputs)
        rows = [dict(op=op, location=loc, seconds=sec, calls=calls) for op, loc, sec, calls in native.profile()]
        return sorted(rows, key=lambda r: -r["seconds"])

    def generate(
        self,
        prompt_ids: Union[Sequence[int], Sequence[Sequence[int]]],
        max_new_tokens: int = 20,
        *,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        stop_ids: Iterable[int] = (),
    ) -> Union[List[int], List[List[int]]]:
        """Continues prompts with a package compiled with ``generate=True``.

        ``prompt_ids`` is one prompt (a list of token ids) or a list of them
        (a ragged batch, at most the compiled batch). Greedy by default;
        ``temperature``/``top_k``/``top_p`` sample as Hugging Face does,
        seeded by ``seed``. Returns the new tokens only: a list for one
        prompt, a list of lists for several.
        """
        if len(prompt_ids) == 0:
            raise ValueError("no prompt given")
        single = isinstance(prompt_ids[0], (int, np.integer))
        prompts = [list(prompt_ids)] if single else [list(p) for p in prompt_ids]
        for p in prompts:
            if not p or not all(isinstance(t, (int, np.integer)) for t in p):
                raise ValueError("prompts must be non-empty lists of integer token ids")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be positive, not {max_new_tokens}")
        out = self._session().generate(
            [[int(t) for t in p] for p in prompts], int(max_new_tokens), float(temperature), int(top_k),
            float(top_p), int(seed), [int(s) for s in stop_ids])
        return out[0] if single else out

    def train(
        self,
        steps: int,
        inputs: Union[Mapping[str, Any], Iterable[Mapping[str, Any]], Callable[[int], Mapping[str, Any]], None] = None,
        *,
        data: Union[PathLike, Sequence[PathLike], None] = None,
        tokenizer: Optional[PathLike] = None,
        data_dtype: str = "uint16",
        shuffle: bool = False,
        seed: int = 0,
        eval_data: Union[PathLike, Sequence[PathLike], None] = None,
        eval_every: int = 0,
        eval_batches: Optional[int] = None,
    ) -> "TrainResult":
        """Runs ``steps`` training steps of a package compiled with
        ``train=True`` and returns the loss of each (a list; its
        ``validation`` attribute holds ``(step, validation loss)`` pairs).

        ``inputs`` is the same batch every step (a dict), an iterable of
        batches, or a function of the step number returning one. With
        ``data`` (a file or a list of files, one stream, as ``tessera-run
        --data``: ``.npy``, ``.bin`` of ``data_dtype`` uint16/uint32, text
        with ``tokenizer``), each step's ``input_ids`` and ``labels`` are
        windows of the stream, consecutive or, with ``shuffle``, drawn from
        ``seed`` and the step (counted from the package's ``train.step``
        state, so a resumed session reads what an uninterrupted one would);
        ``inputs`` then gives the other inputs (an attention mask).

        With ``eval_data`` (files as ``data``), the validation loss of
        ``eval_batches`` batches of its consecutive windows (default: all it
        holds) every ``eval_every`` steps and after the last, as
        ``tessera-run --eval-data``: the package's validation program reads
        the current weights and changes no state (:meth:`evaluate`).
        """
        native = self._session()
        if not native.state_names():
            raise ValueError("train() needs a package compiled for training (tessera.compile(..., train=True))")
        if steps < 1:
            raise ValueError(f"steps must be positive, not {steps}")
        if inputs is None:
            inputs = {}
        if isinstance(inputs, Mapping):
            fixed = inputs
            batches: Callable[[int], Mapping[str, Any]] = lambda step: fixed  # noqa: E731
        elif callable(inputs):
            batches = inputs
        else:
            iterator = iter(inputs)
            batches = lambda step: next(iterator)  # noqa: E731
        stream = None
        if data is not None:
            files = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [os.fspath(f) for f in data]
            stream = _tessera.TokenData(files, os.fspath(tokenizer) if tokenizer else "", data_dtype, shuffle, int(seed))
            spec = {s.name: s for s in self.inputs}
            if "input_ids" not in spec or "labels" not in spec:
                raise ValueError("data= needs a package with inputs input_ids and labels")
            batch, seq = spec["input_ids"].shape
            first = int(np.asarray(native.get_state("train.step")).reshape(-1)[0]) if "train.step" in native.state_names() else 0
        if eval_data is not None and stream is None:
            spec = {s.name: s for s in self.inputs}
            if "input_ids" not in spec or "labels" not in spec:
                raise ValueError("eval_data= needs a package with inputs input_ids and labels")
            batch, seq = spec["input_ids"].shape
            first = int(np.asarray(native.get_state("train.step")).reshape(-1)[0]) if "train.step" in native.state_names() else 0
        losses = TrainResult()
        for step in range(int(steps)):
            feed = dict(batches(step))
            if stream is not None:
                feed["input_ids"], feed["labels"] = stream.windows(first + step, batch, seq)
            result = self.run(feed)
            if "loss" not in result:
                raise RuntimeError("the training package has no 'loss' output")
            losses.append(float(np.asarray(result["loss"]).reshape(-1)[0]))
            done = first + step + 1 if eval_data is not None else 0
            if eval_data is not None and (step + 1 == steps or (eval_every and done % eval_every == 0)):
                others = {k: v for k, v in feed.items() if k not in ("input_ids", "labels")}
                losses.validation.append((done, self.evaluate(
                    eval_data, batches=eval_batches, inputs=others, tokenizer=tokenizer, data_dtype=data_dtype)))
        return losses

    def evaluate(
        self,
        data: Union[PathLike, Sequence[PathLike]],
        *,
        batches: Optional[int] = None,
        inputs: Optional[Mapping[str, Any]] = None,
        tokenizer: Optional[PathLike] = None,
        data_dtype: str = "uint16",
    ) -> float:
        """The validation loss of a training package's current weights: the
        mean loss of ``batches`` batches of consecutive windows of ``data``
        (files as in :meth:`train`; default: every whole batch they hold),
        with ``inputs`` giving the other inputs (an attention mask). Runs the
        package's validation program (its training step's forward and loss,
        no dropout) on every rank: no optimizer step, no state changes."""
        native = self._session()
        if not native.state_names():
            raise ValueError("evaluate() needs a package compiled for training (tessera.compile(..., train=True))")
        spec = {s.name: s for s in self.inputs}
        if "input_ids" not in spec or "labels" not in spec:
            raise ValueError("evaluate() needs a package with inputs input_ids and labels")
        batch, seq = spec["input_ids"].shape
        files = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [os.fspath(f) for f in data]
        stream = _tessera.TokenData(files, os.fspath(tokenizer) if tokenizer else "", data_dtype, False, 0)
        available = (stream.size - 1) // seq // batch
        if available < 1:
            raise ValueError(f"eval data: {stream.size} tokens, a validation batch needs {batch * seq + 1} "
                             f"({batch} windows of {seq} + 1)")
        count = available if batches is None else min(int(batches), available)
        if count < 1:
            raise ValueError(f"batches must be positive, not {batches}")
        total = 0.0
        for b in range(count):
            feed = {k: np.ascontiguousarray(np.asarray(v)) for k, v in (inputs or {}).items()}
            feed["input_ids"], feed["labels"] = stream.windows(b, batch, seq)
            for name, s in spec.items():
                if name not in feed:
                    raise ValueError(f"missing input '{name}' ({s.dtype} {'x'.join(map(str, s.shape))}) for the validation")
                if feed[name].dtype != s.numpy_dtype or tuple(feed[name].shape) != s.shape:
                    raise ValueError(f"input '{name}' must be {s.numpy_dtype} {s.shape}, got "
                                     f"{feed[name].dtype} {tuple(feed[name].shape)}")
            total += native.validation_loss(feed)
        return total / count

    def __repr__(self) -> str:
        return f"tessera.Session({self.package.path!r}, ranks={self.package.ranks})"


class TrainResult(list):
    """The losses of :meth:`Session.train`'s steps (a list of floats) and,
    in ``validation``, its validations as ``(step, loss)`` pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.validation: List[Tuple[int, float]] = []


def from_torch(module: Any, example_inputs: Union[Any, Sequence[Any]], *, input_names: Optional[Sequence[str]] = None,
               output_names: Optional[Sequence[str]] = None, opset: int = 17, **compile_options: Any) -> Package:
    """Exports a ``torch.nn.Module`` with ``torch.onnx.export`` (TorchScript
    exporter, ``opset``) at the shapes of ``example_inputs`` and compiles it
    with ``compile_options`` (those of :func:`compile`).

    Raises:
        ImportError: PyTorch is not installed (Tessera itself never needs it).
    """
    try:
        import torch
    except ImportError as e:
        raise ImportError("tessera.from_torch needs PyTorch (pip install torch onnx); "
                          "tessera.compile takes ONNX files without it") from e
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    temporary = tempfile.mkdtemp(prefix="tessera-torch-")
    try:
        path = os.path.join(temporary, "model.onnx")
        names = list(input_names) if input_names else [f"input_{i}" for i in range(len(example_inputs))]
        kwargs: Dict[str, Any] = dict(input_names=names, opset_version=opset)
        if output_names:
            kwargs["output_names"] = list(output_names)
        module.eval()
        with torch.no_grad():
            try:
                torch.onnx.export(module, example_inputs, path, dynamo=False, **kwargs)
            except TypeError:  # a PyTorch without the dynamo argument
                torch.onnx.export(module, example_inputs, path, **kwargs)
        package = compile(path, **compile_options)
    except BaseException:
        shutil.rmtree(temporary, True)
        raise
    if compile_options.get("weights") == "external":  # the package reads the export's files
        weakref.finalize(package, shutil.rmtree, temporary, True)
    else:
        shutil.rmtree(temporary, True)
    return package
