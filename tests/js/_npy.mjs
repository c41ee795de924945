// relscope/tests/js/_npy.mjs — a tiny .npy reader for the JS tests. The leading "_" keeps it out of the
// test run (scripts/test.sh passes every other tests/js/*.mjs to node --test, which would count a
// helper file as one passing test).
//
// Reads format versions 1.0, 2.0 and 3.0, C order, little-endian float32/float64/int32/int64/uint8.
// float64 and integer data come back as Float32Array unless { raw: true } is passed.
import fs from 'node:fs';

const TYPES = {
  '<f4': Float32Array, '<f8': Float64Array, '<i4': Int32Array, '<i8': BigInt64Array, '|u1': Uint8Array, '<u1': Uint8Array,
};

// -> { data, shape, descr }
export function parseNpy(bytes, { raw = false } = {}) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not a .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`bad .npy header: ${header}`);
  if (fortran === 'True') throw new Error('.npy in Fortran order is not supported');
  const Type = TYPES[descr];
  if (!Type) throw new Error(`.npy dtype ${descr} is not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  // Copy into a fresh, aligned buffer: node's Buffers can start at any byte offset.
  const body = new Uint8Array(count * Type.BYTES_PER_ELEMENT);
  if (offset + body.length > buf.length) throw new Error('.npy data is truncated');
  body.set(buf.subarray(offset, offset + body.length));
  let data = new Type(body.buffer);
  if (!raw && Type !== Float32Array) data = Float32Array.from(data, Number);
  return { data, shape, descr };
}

export function readNpy(path, opts) {
  return parseNpy(fs.readFileSync(path), opts);
}
