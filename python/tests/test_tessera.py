"""Tests of the tessera Python package against the zoo's stored references.

Run by tools/test.sh after `python3 -m pip install ./python` in a fresh
virtual environment: `python -m pytest python/tests`. TESSERA_BIN names the
folder of the command-line tools (default: build/bin beside this checkout)
for the checks that compare with them.
"""

import json
import os
import subprocess

import numpy as np
import pytest

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "test", "models")
BIN = os.environ.get("TESSERA_BIN", os.path.join(ROOT, "build", "bin"))


def zoo(model, exporter):
    """The export's folder, its inputs and ONNX Runtime's outputs."""
    folder = os.path.join(MODELS, model, exporter)
    read = lambda sub: {  # noqa: E731
        f[:-4]: np.load(os.path.join(folder, sub, f)) for f in sorted(os.listdir(os.path.join(folder, sub)))
    }
    return os.path.join(folder, "model.onnx"), read("inputs"), read("outputs")


def shapes(inputs):
    return {name: value.shape for name, value in inputs.items()}


def assert_matches(got, expected, tol=1e-4):
    assert set(expected) <= set(got)
    for name, want in expected.items():
        np.testing.assert_allclose(got[name], want, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("model,exporter", [("gpt2", "dynamo"), ("llama", "torchscript")])
def test_tensor_parallel_matches_onnxruntime(model, exporter):
    path, inputs, outputs = zoo(model, exporter)
    pkg = tessera.compile(path, input_shapes=shapes(inputs), mesh={"tp": 2})
    assert pkg.ranks == 2
    assert [s.name for s in pkg.inputs] == sorted(inputs) or {s.name for s in pkg.inputs} == set(inputs)
    with tessera.Session(pkg, ranks=2) as session:
        got = session.run(inputs)
        assert_matches(got, outputs)
        # A second run on the same session gives the same answer.
        again = session.run(inputs)
        for name in got:
            np.testing.assert_array_equal(got[name], again[name])


def test_single_device_and_data_parallel():
    path, inputs, outputs = zoo("bert", "dynamo")
    for mesh in (None, "dp=2", {"dp": 2, "tp": 2}):
        pkg = tessera.compile(path, input_shapes=shapes(inputs), mesh=mesh)
        got = tessera.Session(pkg).run(inputs)
        assert_matches(got, outputs)


def test_inspect_equals_the_cli(tmp_path):
    path, inputs, _ = zoo("gpt2", "torchscript")
    out = tmp_path / "gpt2_pp.tpkg"
    pkg = tessera.compile(path, input_shapes=shapes(inputs), mesh={"pp": 2}, microbatches=2, output=out)
    cli = subprocess.run([os.path.join(BIN, "tessera-inspect"), str(out), "--json"],
                         check=True, capture_output=True, text=True).stdout
    assert pkg.inspect() == json.loads(cli)
    assert pkg.inspect()["stages"] == 2 and len(pkg.inspect()["ranks"]) == 2


def test_save_and_load(tmp_path):
    path, inputs, outputs = zoo("gpt_neox", "dynamo")
    pkg = tessera.compile(path, input_shapes=shapes(inputs))
    saved = tmp_path / "neox.tpkg"
    pkg.save(saved)
    loaded = tessera.Package.load(saved)
    assert loaded.path == str(saved)
    assert loaded.inputs == pkg.inputs and loaded.outputs == pkg.outputs
    assert_matches(tessera.Session(str(saved)).run(inputs), outputs)


def test_profile_names_the_kernels():
    path, inputs, _ = zoo("gpt2", "dynamo")
    session = tessera.Session(tessera.compile(path, input_shapes=shapes(inputs)), threads=1)
    rows = session.profile(inputs, runs=2)
    ops = {r["op"] for r in rows}
    assert "matmul" in ops and "attention" in ops
    assert all(r["seconds"] >= 0 and r["calls"] >= 2 for r in rows if r["op"] == "matmul")


def test_generate_equals_hugging_face():
    ref = json.load(open(os.path.join(MODELS, "gpt2", "generate.json")))
    pkg = tessera.compile(os.path.join(MODELS, "gpt2", "dynamo", "model.onnx"), generate=True, max_seq=32,
                          batch=len(ref["prompts"]))
    assert pkg.generates
    session = tessera.Session(pkg)
    new = ref["max_new_tokens"]
    got = session.generate(ref["prompts"], new)
    assert [p + g for p, g in zip(ref["prompts"], got)] == ref["ids"]
    # One prompt alone: a flat list, the same tokens.
    assert ref["prompts"][0] + session.generate(ref["prompts"][0], new) == ref["ids"][0]
    # Seeded sampling repeats.
    a = session.generate(ref["prompts"], 8, temperature=0.9, top_k=20, seed=3)
    assert a == session.generate(ref["prompts"], 8, temperature=0.9, top_k=20, seed=3)
    # Tensor parallel, the prompts read by prompt programs on both ranks.
    tp = tessera.compile(os.path.join(MODELS, "gpt2", "dynamo", "model.onnx"), generate=True,
                         max_seq=32, batch=len(ref["prompts"]), mesh="tp=2", prefill="8")
    got = tessera.Session(tp).generate(ref["prompts"], new)
    assert [p + g for p, g in zip(ref["prompts"], got)] == ref["ids"]


def test_generate_encoder_decoder_equals_hugging_face():
    # Optimum's T5 folder: the encoder reads the prompt, the decoder starts
    # from its start token (0); generate() returns the tokens after it.
    ref = json.load(open(os.path.join(MODELS, "optimum", "t5", "generate.json")))
    pkg = tessera.compile(os.path.join(MODELS, "optimum", "t5", "optimum"), generate=True,
                          max_seq=16, batch=3, mesh="tp=2")
    got = tessera.Session(pkg).generate(ref["prompts"], ref["max_new_tokens"])
    assert [[0] + g for g in got] == ref["ids"]


def test_train_equals_the_cli(tmp_path):
    folder = os.path.join(MODELS, "gpt2", "dynamo")
    inputs = {
        "input_ids": np.load(os.path.join(folder, "inputs", "input_ids.npy")),
        "attention_mask": np.load(os.path.join(folder, "inputs", "attention_mask.npy")),
        "labels": np.load(os.path.join(MODELS, "gpt2", "train", "labels.npy")),
    }
    out = tmp_path / "train.tpkg"
    tessera.compile(os.path.join(folder, "model.onnx"), batch=2, seq=16, train=True, lr=1e-2, clip_grad_norm=1.0,
                    output=out)
    losses = tessera.Session(str(out)).train(4, inputs)
    assert len(losses) == 4 and losses[-1] < losses[0]
    log = tmp_path / "loss.csv"
    files = []
    for name, value in inputs.items():
        np.save(tmp_path / f"{name}.npy", value)
        files += ["--input", f"{name}={tmp_path / (name + '.npy')}"]
    subprocess.run([os.path.join(BIN, "tessera-run"), str(out), *files, "--steps", "4", "--loss-log", str(log)],
                   check=True, capture_output=True)
    cli = [float(line.split(",")[1]) for line in open(log).read().splitlines()[1:]]
    np.testing.assert_allclose(losses, cli, rtol=1e-6)
    # Data- and tensor-parallel training, ranks as threads: the same losses.
    pkg = tessera.compile(os.path.join(folder, "model.onnx"), batch=2, seq=16, train=True, lr=1e-2,
                          clip_grad_norm=1.0, mesh={"dp": 2, "tp": 2})
    np.testing.assert_allclose(tessera.Session(pkg, ranks=4).train(4, inputs), losses, rtol=1e-5)


def test_train_data_equals_the_cli(tmp_path):
    # Session.train(data=...) reads the windows tessera-run --data reads:
    # a .npy and a uint16 .bin as one stream, shuffled with a seed.
    folder = os.path.join(MODELS, "gpt2", "dynamo")
    mask = np.load(os.path.join(folder, "inputs", "attention_mask.npy"))
    np.save(tmp_path / "a.npy", (np.arange(70) * 7 + 3) % 512)
    ((np.arange(50) * 11 + 5) % 512).astype("<u2").tofile(tmp_path / "b.bin")
    stream = np.concatenate([np.load(tmp_path / "a.npy"), np.fromfile(tmp_path / "b.bin", "<u2")])
    out = tmp_path / "train.tpkg"
    tessera.compile(os.path.join(folder, "model.onnx"), batch=2, seq=16, train=True, lr=1e-2,
                    dropout_seed="off", output=out)
    files = [str(tmp_path / "a.npy"), str(tmp_path / "b.bin")]
    losses = tessera.Session(str(out)).train(3, {"attention_mask": mask}, data=files, shuffle=True, seed=5)
    log, windows = tmp_path / "loss.csv", tmp_path / "windows.csv"
    subprocess.run([os.path.join(BIN, "tessera-run"), str(out), "--input",
                    f"attention_mask={os.path.join(folder, 'inputs', 'attention_mask.npy')}",
                    "--data", files[0], "--data", files[1], "--shuffle", "--seed", "5", "--steps", "3",
                    "--loss-log", str(log), "--windows-log", str(windows)], check=True, capture_output=True)
    cli = [float(line.split(",")[1]) for line in open(log).read().splitlines()[1:]]
    np.testing.assert_allclose(losses, cli, rtol=1e-6)
    for line in open(windows).read().splitlines()[1:]:
        _, _, start, tokens = line.split(",")
        assert [int(t) for t in tokens.split()] == list(stream[int(start):int(start) + 17])


def test_validation_equals_the_cli(tmp_path):
    # Session.train(eval_data=...) and Session.evaluate give tessera-run
    # --eval-data's validation losses, on a dp=2 x tp=2 package, and change
    # no state (the training losses are those of a run without validation).
    folder = os.path.join(MODELS, "gpt2", "dynamo")
    mask = np.load(os.path.join(folder, "inputs", "attention_mask.npy"))
    np.save(tmp_path / "train.npy", (np.arange(200) * 7 + 3) % 512)
    np.save(tmp_path / "val.npy", (np.arange(100) * 13 + 1) % 512)
    out = tmp_path / "train.tpkg"
    tessera.compile(os.path.join(folder, "model.onnx"), batch=2, seq=16, train=True, lr=1e-2,
                    dropout_seed="off", mesh="dp=2,tp=2", output=out)
    session = tessera.Session(str(out))
    result = session.train(4, {"attention_mask": mask}, data=tmp_path / "train.npy",
                           eval_data=tmp_path / "val.npy", eval_every=2, eval_batches=2)
    assert [step for step, _ in result.validation] == [2, 4]
    assert session.evaluate(tmp_path / "val.npy", batches=2, inputs={"attention_mask": mask}) == \
        pytest.approx(result.validation[-1][1], rel=1e-7)
    plain = tessera.Session(str(out)).train(4, {"attention_mask": mask}, data=tmp_path / "train.npy")
    assert list(result) == plain
    log = tmp_path / "loss.csv"
    subprocess.run([os.path.join(BIN, "tessera-run"), str(out), "--input",
                    f"attention_mask={os.path.join(folder, 'inputs', 'attention_mask.npy')}",
                    "--data", str(tmp_path / "train.npy"), "--eval-data", str(tmp_path / "val.npy"),
                    "--eval-every", "2", "--eval-batches", "2", "--steps", "4", "--loss-log", str(log)],
                   check=True, capture_output=True)
    rows = [line.split(",") for line in open(log).read().splitlines()[1:]]
    cli = [(int(r[0]), float(r[4])) for r in rows if r[4]]
    assert [s for s, _ in cli] == [2, 4]
    np.testing.assert_allclose([v for _, v in result.validation], [v for _, v in cli], rtol=1e-6)
    with pytest.raises(ValueError, match="a validation batch needs 33"):
        np.save(tmp_path / "short.npy", np.arange(20))
        session.evaluate(tmp_path / "short.npy", inputs={"attention_mask": mask})


# Bad arguments raise Python exceptions with the message.

def test_unknown_mesh_axis():
    path, inputs, _ = zoo("gpt2", "dynamo")
    with pytest.raises(ValueError, match="unknown mesh axis 'xp'"):
        tessera.compile(path, input_shapes=shapes(inputs), mesh={"xp": 2})
    with pytest.raises(tessera.CompileError, match="xp"):
        tessera.compile(path, input_shapes=shapes(inputs), mesh="xp=2")


def test_compiler_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError):
        tessera.compile(tmp_path / "absent.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0fnot a model")
    with pytest.raises(tessera.CompileError, match="garbage.onnx"):
        tessera.compile(garbage)
    path, inputs, _ = zoo("gpt2", "dynamo")
    with pytest.raises(tessera.CompileError, match="bogus-option"):
        tessera.compile(path, bogus_option=3)
    # The compiler's options do not leak from one call into the next.
    pkg = tessera.compile(path, input_shapes=shapes(inputs))
    assert pkg.ranks == 1


def test_compile_options_are_typed():
    # Keyword arguments set the fields of one CompileOptions (the struct the
    # command line fills), each in its own type: a value that is not one is
    # refused naming the option; the options' own checks run as on the CLI.
    path, inputs, _ = zoo("gpt2", "dynamo")
    with pytest.raises(tessera.CompileError, match="--microbatches.*'many'"):
        tessera.compile(path, input_shapes=shapes(inputs), microbatches="many")
    with pytest.raises(tessera.CompileError, match="--objective must be latency or throughput"):
        tessera.compile(path, input_shapes=shapes(inputs), devices=2, objective="fastest")
    # Lists stay lists (one --shard per entry: the second one is read, and
    # refused); numbers given as strings convert. (The dynamo export ties the
    # embedding to the LM head: one weight, model.lm_head.weight; a hint that
    # names no weight is refused.)
    with pytest.raises(tessera.CompileError, match="hint '\\*c_fc.weight=S7'"):
        tessera.compile(path, input_shapes=shapes(inputs), mesh="tp=2",
                        shard=["model.lm_head.weight=R", "*c_fc.weight=S7"])
    pkg = tessera.compile(path, input_shapes=shapes(inputs), mesh="tp=2", microbatches="1",
                          shard=["model.lm_head.weight=R", "*c_fc.weight=S1"])
    assert pkg.ranks == 2


def test_bad_inputs_raise():
    path, inputs, _ = zoo("gpt2", "dynamo")
    session = tessera.Session(tessera.compile(path, input_shapes=shapes(inputs)))
    wrong_dtype = dict(inputs, input_ids=inputs["input_ids"].astype(np.float32))
    with pytest.raises(ValueError, match="input_ids.*int64"):
        session.run(wrong_dtype)
    wrong_shape = dict(inputs, input_ids=inputs["input_ids"][:, :3])
    with pytest.raises(ValueError, match="input_ids.*shape"):
        session.run(wrong_shape)
    with pytest.raises(ValueError, match="missing input.*attention_mask"):
        session.run({"input_ids": inputs["input_ids"]})
    with pytest.raises(ValueError, match="no input named 'tokens'"):
        session.run(dict(inputs, tokens=inputs["input_ids"]))
    with pytest.raises(TypeError):
        session.run([inputs["input_ids"]])
    with pytest.raises(ValueError, match="planned for 1 rank"):
        tessera.Session(session.package, ranks=2)
    with pytest.raises(ValueError, match="needs a package compiled for generation"):
        session.generate([1, 2], 3)
    with pytest.raises(ValueError, match="needs a package compiled for training"):
        session.train(1, inputs)
    # The session still works after all that.
    assert session.run(inputs)["logits"].shape == (2, 16, 512)


def test_from_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    x = torch.randn(3, 8)
    pkg = tessera.from_torch(module, (x,), input_names=["x"], output_names=["y"])
    got = tessera.Session(pkg).run({"x": x.numpy()})["y"]
    np.testing.assert_allclose(got, module(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_from_torch_without_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs PyTorch"):
            tessera.from_torch(object(), ())
        return
    pytest.skip("PyTorch is installed: test_from_torch runs instead")
