#!/usr/bin/env python3
"""tests/hostile/make_corpus.py — writes the malformed and hostile files of tests/hostile/files/.

Sections: protobuf encoding | ONNX messages | the base model | models | .npy | images | .csv | main

Usage: tests/hostile/make_corpus.py [OUT_DIR]   (default: tests/hostile/files next to this script)

Standard library only (no numpy, no onnx, no PIL): every file is written byte by byte, so each one is
exactly the defect it is named after and nothing else. The output is deterministic (no clocks, fixed
"random" bytes from a seeded LCG); tests/hostile/run.sh regenerates into a temporary folder and checks
that the committed files are identical, so the files and this script cannot drift apart.
What each file must make relscope say is in tests/hostile/manifest.tsv.
"""
import base64
import os
import struct
import sys
import zlib

# ---- protobuf encoding ------------------------------------------------------------------------------


def varint(n):
    n &= (1 << 64) - 1  # int64 two's complement, as protobuf encodes negative int64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(tag, wire):
    return varint((tag << 3) | wire)


def f_varint(tag, n):
    return key(tag, 0) + varint(n)


def f_bytes(tag, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return key(tag, 2) + varint(len(payload)) + payload


def f_packed_int64(tag, values):
    return f_bytes(tag, b"".join(varint(v) for v in values))


# ---- ONNX messages (field numbers from onnx.proto3) -------------------------------------------------
FLOAT, INT64, STRING = 1, 7, 8


def tensor(name, dims, floats=None, raw=None, data_type=FLOAT, extra=b""):
    m = f_packed_int64(1, dims) + f_varint(2, data_type) + f_bytes(8, name)
    if floats is not None:
        m += f_bytes(4, struct.pack("<%df" % len(floats), *floats))
    if raw is not None:
        m += f_bytes(9, raw)
    return m + extra


def value_info(name, dims, elem_type=FLOAT):
    shape = b"".join(f_bytes(1, f_bytes(2, d) if isinstance(d, str) else f_varint(1, d)) for d in dims)
    tensor_type = f_varint(1, elem_type) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tensor_type))


def attr_int(name, v):
    return f_bytes(1, name) + f_varint(3, v) + f_varint(20, 2)


def node(op, inputs, outputs, name="", attrs=(), domain=""):
    m = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs)
    if name:
        m += f_bytes(3, name)
    m += f_bytes(4, op) + b"".join(f_bytes(5, a) for a in attrs)
    if domain:
        m += f_bytes(7, domain)
    return m


def graph(nodes, inits=(), inputs=(), outputs=()):
    return (b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g") + b"".join(f_bytes(5, t) for t in inits)
            + b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs))


def model(g, opset=13, ir=7):
    m = f_varint(1, ir) + f_bytes(2, "relscope-hostile")
    if opset is not None:
        m += f_bytes(8, f_bytes(1, "") + f_varint(2, opset))
    return m + f_bytes(7, g)


# ---- the base model: y = Relu(Gemm(x[N,4], W[3,4]^T, B[3])) ----------------------------------------
W = [0.5, -0.25, 0.125, 1.0, -1.0, 0.75, 0.5, -0.5, 0.25, 0.25, -0.125, 2.0]
B = [0.1, -0.2, 0.3]
X_IN = value_info("x", ["N", 4])
Y_OUT = value_info("y", ["N", 3])


def gemm(w=W, b=B, x="x"):
    return node("Gemm", [x, "W", "B"], ["h"], "fc", [attr_int("transB", 1)])


def base_graph(w=W, b=B, nodes=None, inits=None, inputs=None, outputs=None):
    return graph(nodes if nodes is not None else [gemm(), node("Relu", ["h"], ["y"], "relu")],
                 inits if inits is not None else [tensor("W", [3, 4], w), tensor("B", [3], b)],
                 inputs if inputs is not None else [X_IN], outputs if outputs is not None else [Y_OUT])


def base_model(**kw):
    return model(base_graph(**kw))


def models():
    nan, inf = float("nan"), float("inf")
    good = base_model()
    relu = node("Relu", ["h"], ["y"], "relu")
    yield "base.onnx", good  # the well-formed model the other files break (and the .npy/.csv inputs feed)
    yield "empty.onnx", b""
    yield "truncated.onnx", good[: len(good) * 2 // 3]
    # graph (field 7) sent as a varint instead of a length-delimited message
    yield "wrong_wire_type.onnx", f_varint(1, 7) + f_bytes(8, f_bytes(1, "") + f_varint(2, 13)) + f_varint(7, 5)
    # a node name (a string field) that declares more bytes than its node holds
    bad_node = f_bytes(4, "Relu") + key(3, 2) + varint(1000) + b"abc"
    yield "overlong_length.onnx", model(graph([bad_node], [], [X_IN], [Y_OUT]))
    # an 11-byte varint (at most 10 are valid) as ir_version
    yield "bad_varint.onnx", key(1, 0) + b"\xff" * 10 + b"\x01"
    yield "no_graph.onnx", f_varint(1, 7) + f_bytes(8, f_bytes(1, "") + f_varint(2, 13))
    yield "huge_dims.onnx", base_model(inits=[tensor("W", [1000000, 1000000], []), tensor("B", [3], B)])
    yield "negative_dims.onnx", base_model(inits=[tensor("W", [-3, 4], W), tensor("B", [3], B)])
    yield "rank9.onnx", base_model(inits=[tensor("W", [1] * 9, [1.0]), tensor("B", [3], B)])
    yield "short_raw_data.onnx", base_model(inits=[tensor("W", [3, 4], raw=b"\0" * 40), tensor("B", [3], B)])
    yield "string_weights.onnx", base_model(inits=[tensor("W", [3, 4], data_type=STRING), tensor("B", [3], B)])
    yield "missing_data_type.onnx", base_model(inits=[f_packed_int64(1, [3]) + f_bytes(8, "B") + f_bytes(4, b"\0" * 12),
                                                      tensor("W", [3, 4], W)])
    ext = f_bytes(13, f_bytes(1, "location") + f_bytes(2, "weights.bin")) + f_varint(14, 1)
    yield "external_data.onnx", base_model(inits=[tensor("W", [3, 4], extra=ext), tensor("B", [3], B)])
    yield "nan_weight.onnx", base_model(w=W[:5] + [nan] + W[6:])
    yield "inf_bias.onnx", base_model(b=[0.1, inf, 0.3])
    yield "cycle.onnx", base_model(nodes=[node("Relu", ["y"], ["a"], "r1"), node("Relu", ["a"], ["y"], "r2")],
                                   inits=[])
    yield "undefined_input.onnx", base_model(nodes=[gemm(x="ghost"), relu])
    yield "duplicate_value.onnx", base_model(nodes=[gemm(), node("Relu", ["h"], ["h"], "relu2"), relu])
    yield "duplicate_node_name.onnx", base_model(nodes=[gemm(), node("Relu", ["h"], ["y"], "fc")])
    yield "undefined_output.onnx", base_model(outputs=[value_info("z", ["N", 3])])
    yield "unsupported_op.onnx", base_model(nodes=[gemm(), node("FancyActivation", ["h"], ["y"], "fancy")])
    yield "custom_domain.onnx", base_model(nodes=[gemm(), node("Relu", ["h"], ["y"], "relu", domain="com.example")])
    yield "opset_too_new.onnx", model(base_graph(), opset=99)
    yield "opset_too_old.onnx", model(base_graph(), opset=1)
    yield "no_opset.onnx", model(base_graph(), opset=None)
    yield "string_input.onnx", base_model(inputs=[value_info("x", ["N", 4], STRING)])
    yield "gemm_shape_mismatch.onnx", base_model(inits=[tensor("W", [3, 5], [0.1] * 15), tensor("B", [3], B)])
    yield "zero_sized_weight.onnx", base_model(inits=[tensor("W", [3, 0], []), tensor("B", [3], B)])
    yield "zero_sized_input.onnx", base_model(inputs=[value_info("x", [1, 0])],
                                              inits=[tensor("W", [3, 0], []), tensor("B", [3], B)])
    # ConstantOfShape of 1e12 elements from a constant shape: folded at plan time, refused before allocating
    shape = tensor("s", [2], raw=struct.pack("<2q", 1000000, 1000000), data_type=INT64)
    yield "huge_intermediate.onnx", base_model(
        nodes=[gemm(), node("ConstantOfShape", ["s"], ["c"], "big"), node("Add", ["h", "c"], ["y"], "add")],
        inits=[tensor("W", [3, 4], W), tensor("B", [3], B), shape])
    # a Reshape target whose dims multiply past int64 (2^40 * 2^40; found by tests/fuzz/fuzz_explain)
    target = tensor("t", [3], raw=struct.pack("<3q", 1 << 40, 1 << 40, -1), data_type=INT64)
    yield "reshape_overflow.onnx", base_model(
        nodes=[gemm(), node("Reshape", ["h", "t"], ["y"], "reshape")],
        inits=[tensor("W", [3, 4], W), tensor("B", [3], B), target])
    # Slice steps of -2^63 and 2^62 (tests/fuzz/fuzz_explain found the element count overflowing): valid,
    # each takes one element; the sanitizer build must run them without undefined behaviour
    ints = lambda name, vals: tensor(name, [len(vals)], raw=struct.pack("<%dq" % len(vals), *vals), data_type=INT64)
    yield "slice_extreme_steps.onnx", base_model(
        nodes=[gemm(), node("Slice", ["h", "s0", "e0", "a0", "k0"], ["h1"], "slice_min"),
               node("Slice", ["h1", "s1", "e1", "a1", "k1"], ["y"], "slice_big")],
        inits=[tensor("W", [3, 4], W), tensor("B", [3], B), ints("s0", [-1]), ints("e0", [-(1 << 63)]),
               ints("a0", [1]), ints("k0", [-(1 << 63)]), ints("s1", [0]), ints("e1", [(1 << 63) - 1]),
               ints("a1", [1]), ints("k1", [1 << 62])],
        outputs=[value_info("y", ["N", 1])])
    # an output sliced down to nothing (fuzz_explain: the LRP seed indexed an empty output)
    yield "empty_output.onnx", base_model(
        nodes=[gemm(), node("Slice", ["h", "s0", "e0", "a0"], ["y"], "slice_empty")],
        inits=[tensor("W", [3, 4], W), tensor("B", [3], B), ints("s0", [2]), ints("e0", [1]), ints("a0", [1])],
        outputs=[value_info("y", ["N", 0])])
    # pads of -2^62 - 1 and -2^62 whose sum with the dimension overflows int64 (fuzz_explain)
    yield "pad_overflow.onnx", base_model(
        nodes=[gemm(), node("Pad", ["h", "p0"], ["y"], "pad")],
        inits=[tensor("W", [3, 4], W), tensor("B", [3], B), ints("p0", [0, -(1 << 62) - 1, 0, -(1 << 62)])])
    # a node whose outputs were dropped (fuzz_explain: the kernel wrote to a missing output)
    yield "node_without_output.onnx", base_model(nodes=[gemm(), relu, node("Relu", ["h"], [], "dead")])
    yield "node_with_empty_output.onnx", base_model(nodes=[gemm(), relu, node("Relu", ["h"], [""], "dead")])
    # valid, but a Pow whose exponent is an activation: the CPU explains it, the GPU path refuses it by name
    # (the canvas' and the JS API's fallback to the CPU is tested with it)
    yield "pow_of_activations.onnx", base_model(
        nodes=[gemm(), node("Relu", ["h"], ["r"], "relu"), node("Pow", ["r", "r"], ["y"], "pow")])
    # dims whose product (2^80) overflows 64 bits
    yield "overflow_dims.onnx", base_model(inits=[tensor("W", [1 << 32, 1 << 32, 65536], []), tensor("B", [3], B)])
    rng = 12345
    noise = bytearray()
    for _ in range(3000):
        rng = (rng * 1103515245 + 12345) & 0x7FFFFFFF
        noise.append(rng >> 16 & 0xFF)
    yield "random_bytes.onnx", bytes(noise)


# ---- .npy --------------------------------------------------------------------------------------------


def npy(descr, shape, data, fortran=False, version=1):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode()
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(header)) + header + data


def npys():
    x = struct.pack("<4f", 0.5, -1.0, 2.0, 0.25)
    yield "x.npy", npy("<f4", (1, 4), x)  # the well-formed input of base.onnx
    yield "big_endian.npy", npy(">f4", (1, 4), struct.pack(">4f", 0.5, -1.0, 2.0, 0.25))
    yield "fortran_order.npy", npy("<f4", (4, 1), x, fortran=True)
    yield "complex_dtype.npy", npy("<c8", (1, 2), x)
    yield "object_dtype.npy", npy("|O", (1, 1), b"\x80\x04N.")
    yield "truncated_data.npy", npy("<f4", (1, 4), x[:10])
    yield "huge_shape.npy", npy("<f4", (1000000, 1000000), x)
    yield "negative_shape.npy", npy("<f4", (-1, 4), x)
    yield "bad_magic.npy", b"\x93NUMPX" + npy("<f4", (1, 4), x)[6:]
    yield "header_overrun.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 60000) + b"{'descr': '<f4'"
    yield "header_not_dict.npy", npy("<f4", (1, 4), x).replace(b"{'descr'", b"[('descr'", 1)
    yield "nan_input.npy", npy("<f4", (1, 4), struct.pack("<4f", 0.5, float("nan"), 2.0, 0.25))
    yield "inf_input.npy", npy("<f8", (1, 4), struct.pack("<4d", 0.5, 1e300, 2.0, 0.25))
    yield "wrong_shape.npy", npy("<f4", (1, 5), x + x[:4])
    yield "zero_batch.npy", npy("<f4", (0, 4), b"")
    # found by fuzz_npy: empty (a zero dim), but the other dims multiply past int64 in shape arithmetic
    yield "empty_huge_dims.npy", npy("<f4", (0, 1416110000, 7080550550), b"")
    yield "extreme_values.npy", npy("<f4", (1, 4), struct.pack("<4f", 3e38, -3e38, 3e38, 3e38))


# ---- images ------------------------------------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, rows=None, color_type=0):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\0" * (height * (width + 1)))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# A 16x16 gray baseline JPEG written once with stb_image_write (quality 50): the well-formed source of the
# truncated one, kept as bytes so that no image library is needed.
JPEG_16 = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19i"
    "Z2hnPk1xeXBkeFxlZ2MBERISGBUYLxoaL2NCOEJjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY//AABEIABAAEAMBIgACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQEC"
    "AwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm"
    "Z2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq"
    "8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIy"
    "gQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SF"
    "hoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEA"
    "AhEDEQA/AIVj0ueNVjW2tiDnfEsRJ9vmkI/SnPGbXfJE0EsC4wd0O89P4FRj19M+tWG2XmXxPHLs2qUMqKD2JVI1z/P3oEOp2+zy"
    "jPc7s58pJht+u5x+npQB/9k=")


def images():
    good = png(8, 8)
    yield "gray_8x8.png", good  # well-formed: the images below break it
    yield "zero_by_zero.png", png(0, 0, b"")
    yield "huge_100000x100000.png", png(100000, 100000, b"\0" * 101)
    yield "truncated.png", good[:45]
    yield "bad_color_type.png", png(8, 8, color_type=5)
    yield "truncated.jpg", JPEG_16[:600]  # cut inside the start-of-scan header (it begins at byte 595)
    yield "truncated_scan.jpg", JPEG_16[:640]  # cut inside the compressed pixels
    yield "header_only.jpg", JPEG_16[:20]
    # found by fuzz_image: a Huffman table (DHT) whose 16 code counts sum past 256 (here 512) overflows
    # the tables of Debian's stb_image 2022-09-08
    dht = JPEG_16.index(b"\xff\xc4") + 5
    yield "huffman_overflow.jpg", JPEG_16[:dht] + bytes([32] * 16) + JPEG_16[dht + 16:]
    # found by fuzz_image in CI: a scan whose first component decodes with DC and AC table 2, which no DHT
    # defines; stb then reads never-written table memory and indexes past it
    sos = JPEG_16.index(b"\xff\xda") + 6
    yield "undefined_huffman_table.jpg", JPEG_16[:sos] + b"\x22" + JPEG_16[sos + 1:]
    # BMP: a 40-byte info header declaring 70000 x -70000 (top-down) 24-bit pixels, no pixel data
    info = struct.pack("<IiiHHIIiiII", 40, 70000, -70000, 1, 24, 0, 0, 0, 0, 0, 0)
    yield "huge.bmp", b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + info + b"\0" * 16
    # BMP: 8x8 24-bit (rows of 24 bytes: 192 bytes of pixels declared), only 96 present
    info = struct.pack("<IiiHHIIiiII", 40, 8, 8, 1, 24, 0, 192, 0, 0, 0, 0)
    yield "truncated.bmp", b"BM" + struct.pack("<IHHI", 54 + 192, 0, 0, 54) + info + b"\x80" * 96
    yield "truncated.gif", b"GIF89a" + struct.pack("<HH", 8, 8) + b"\x80\x00\x00" + b"\0\0\0\xff\xff\xff" + b","


# ---- .csv --------------------------------------------------------------------------------------------


def csvs():
    yield "table.csv", b"a,b,c,d\n0.5,-1,2,0.25\n1,2,3,4\n"  # well-formed: two rows for base.onnx
    yield "missing_cell.csv", b"a,b,c,d\n0.5,,2,0.25\n"
    yield "non_numeric.csv", b"a,b,c,d\n0.5,-1,2,0.25\n1,two,3,4\n"
    yield "ragged.csv", b"a,b,c,d\n0.5,-1,2,0.25\n1,2,3\n"
    yield "nan_cell.csv", b"0.5,-1,nan,0.25\n"
    yield "header_only.csv", b"a,b,c,d\n"
    yield "binary.csv", b"\x00\x01\x02\xff\xfe,\x00\n\x00\x00\n"
    yield "wrong_width.csv", b"1,2,3\n4,5,6\n"


# ---- main --------------------------------------------------------------------------------------------


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")
    os.makedirs(out, exist_ok=True)
    count = 0
    for gen in (models, npys, images, csvs):
        for name, data in gen():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            count += 1
    print("wrote %d files to %s" % (count, out))


if __name__ == "__main__":
    main()
