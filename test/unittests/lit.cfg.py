# lit configuration for Tessera's GoogleTest binaries (build/bin/unittests/*Tests).
import os

import lit.formats

config.name = "Tessera-Unit"
config.suffixes = []
config.test_source_root = os.path.join(config.tessera_obj_root, "bin", "unittests")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
# The CPU-path legs of tools/test.sh (TESSERA_CPU_ISA=avx2|portable, with
# oneDNN and OpenBLAS capped) reach the kernel tests through these.
for name in ("TESSERA_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY",
             "GOMP_SPINCOUNT"):
    if name in os.environ:
        config.environment[name] = os.environ[name]
