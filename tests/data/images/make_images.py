#!/usr/bin/python3
# relscope/tests/data/images/make_images.py — writes the image fixtures of tests/cli/cli_test.sh, byte for byte
# the same on every run (plain zlib, no numpy/PIL): gradient_40x30.png, an RGB image whose size differs from
# every fixture model's input, so the CLI must resize it.
import os
import struct
import zlib


def png(width, height, rows):
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    raw = b''.join(b'\0' + bytes(row) for row in rows)   # filter type 0 on every row
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)   # 8-bit RGB
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')


def gradient(width, height):
    # red grows to the right, green downwards, blue is a checkerboard of 5x5 tiles
    return [[v for x in range(width) for v in (x * 255 // (width - 1), y * 255 // (height - 1),
                                               200 if (x // 5 + y // 5) % 2 else 40)] for y in range(height)]


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, 'gradient_40x30.png'), 'wb') as f:
    f.write(png(40, 30, gradient(40, 30)))
