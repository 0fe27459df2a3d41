# lit configuration for Tessera's FileCheck tests (test/**/*.mlir).
import os
import shutil

import lit.formats

config.name = "Tessera"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "models"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tessera_obj_root, "test")

# TESSERA_TOOLS_DIR runs the suite against other builds of the tools (the
# AddressSanitizer build in tools/test.sh).
tools_dir = os.environ.get("TESSERA_TOOLS_DIR", config.tessera_tools_dir)
path = [tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
config.environment["PATH"] = os.pathsep.join(path)
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"
config.substitutions.append(("%tessera_src", config.tessera_src_root))
config.substitutions.append(("%tessera_bin", tools_dir))
# The CPU-path legs of tools/test.sh (TESSERA_CPU_ISA=avx2|portable, with
# oneDNN and OpenBLAS capped) reach the tools through these.
for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TESSERA_CPU_ISA",
             "ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY",
             "GOMP_SPINCOUNT"):
    if name in os.environ:
        config.environment[name] = os.environ[name]
if os.path.isdir("/usr/include/onnx/backend/test/data/node"):
    config.available_features.add("onnx-testdata")
if config.have_mpi:
    config.available_features.add("mpi")
    # The tests run as root on the build machines; OpenMPI refuses that unless told.
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    config.environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    # %mpirun: mpirun with a session directory of its own (test/e2e/mpirun.sh).
    config.substitutions.append(
        ("%mpirun", os.path.join(config.tessera_src_root, "test", "e2e", "mpirun.sh")))
if config.have_cuda:
    config.available_features.add("cuda")
# A GPU the CUDA backend can run on: tests marked `REQUIRES: gpu` are shown as
# UNSUPPORTED (skipped) without one.
try:
    import subprocess
    smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    if smi.returncode == 0 and "GPU" in smi.stdout:
        config.available_features.add("gpu")
except (OSError, subprocess.SubprocessError):
    pass
# Headless Chromium (Debian's `chromium`, installed by tools/setup-deps.sh)
# renders tessera-inspect's HTML report.
# taskset pins the cores a test runs on (util-linux).
if shutil.which("taskset"):
    config.available_features.add("taskset")
if shutil.which("chromium"):
    config.available_features.add("chromium")
