#!/usr/bin/env python3
"""Writes the bytes of text files as a 1-D int64 token stream (.npy), the
simplest tokenizer there is (ids 0-255), for `tessera-run --data`.

    python3 tools/models/byte_tokens.py OUT.npy FILE...

Standard library only.
"""
import struct
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = b"".join(open(f, "rb").read() for f in sys.argv[2:])
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % len(data)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(sys.argv[1], "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        out.write(struct.pack(f"<{len(data)}q", *data))
    print(f"{sys.argv[1]}: {len(data)} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
