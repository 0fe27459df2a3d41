# lit configuration for Tessera's GoogleTest binaries (build/bin/unittests/*Tests).
import os

import lit.formats

config.name = "Tessera-Unit"
config.suffixes = []
config.test_source_root = os.path.join(config.tessera_obj_root, "bin", "unittests")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
