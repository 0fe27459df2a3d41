"""What the test-model generators share: export a module with both torch
exporters (their defaults), run ONNX Runtime on the same inputs and save
inputs/*.npy and outputs/*.npy beside each model.onnx.

    from exporting import export_both
    export_both(module, feeds, out_root, output_names)

writes OUT_ROOT/torchscript/ and OUT_ROOT/dynamo/ (model.onnx, inputs/,
outputs/); the TorchScript export gets dynamic batch and sequence axes on
every input unless `dynamic_axes` says otherwise, the dynamo export is
static (its default).
"""
import os

import numpy as np
import onnxruntime as ort
import torch


def ort_outputs(path, feeds):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def save_case(out, feeds, outputs):
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(out, "outputs"), exist_ok=True)
    for n, v in feeds.items():
        np.save(os.path.join(out, "inputs", n + ".npy"), v)
    for n, v in outputs.items():
        np.save(os.path.join(out, "outputs", n + ".npy"), v)


def export_both(module, feeds, out_root, output_names, dynamic_axes=None,
                exporters=("torchscript", "dynamo"), torchscript_opset=None):
    """Exports `module` called with the tensors of `feeds` (a dict of numpy
    arrays, in argument order). `dynamic_axes` for the TorchScript export
    ({}: static shapes; default: batch and sequence of every input);
    `torchscript_opset` its opset (default: the exporter's). Returns
    {exporter: path} for those that succeeded; an exporter that fails is
    reported and skipped."""
    names = list(feeds)
    args = tuple(torch.from_numpy(v) for v in feeds.values())
    if dynamic_axes is None:
        dynamic_axes = {n: {0: "batch", 1: "sequence_" + n} for n in names}
    written = {}
    for exporter in exporters:
        out = os.path.join(out_root, exporter)
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "model.onnx")
        try:
            with torch.no_grad():
                if exporter == "torchscript":
                    extra = {} if torchscript_opset is None else {"opset_version": torchscript_opset}
                    torch.onnx.export(module, args, path, input_names=names,
                                      output_names=output_names, dynamo=False,
                                      dynamic_axes=dynamic_axes, **extra)
                else:
                    torch.onnx.export(module, args, input_names=names,
                                      output_names=output_names, dynamo=True).save(path)
        except Exception as e:  # noqa: BLE001 - report and go on with the other exporter
            print(f"{exporter}: export failed: {type(e).__name__}: {str(e)[:200]}")
            continue
        save_case(out, feeds, ort_outputs(path, feeds))
        written[exporter] = path
        print(f"{exporter}: {path}")
    return written
