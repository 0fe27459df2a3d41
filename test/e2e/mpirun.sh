#!/bin/bash
# mpirun with a temporary directory of its own: Open MPI creates its session
# directory under TMPDIR, and two mpiruns starting at once under the same
# TMPDIR (lit's workers share one) race for it ("A call to mkdir was unable
# to create the desired directory ... File exists"). Exit status and output
# are mpirun's.
dir=$(mktemp -d "${TMPDIR:-/tmp}/tessera-mpirun.XXXXXX") || exit 1
TMPDIR=$dir mpirun "$@"
status=$?
rm -rf "$dir"
exit $status
