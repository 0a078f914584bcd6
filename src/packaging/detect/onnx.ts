import { open } from 'node:fs/promises';

/** What the protobuf header of an ONNX ModelProto says. */
export interface OnnxInfo {
  irVersion: number;
  producer?: string;
}

/** ModelProto's field numbers (onnx/onnx.proto3). */
const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26]);

/**
 * Check that a file is an ONNX ModelProto by walking its top-level protobuf fields (seeking past
 * length-delimited ones, so a 2 GB model costs a few reads): every field must be a ModelProto field
 * with the right wire type, and ir_version (1) and graph (7) must be present.
 */
export async function inspectOnnxFile(path: string): Promise<OnnxInfo> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.alloc(20);
    let pos = 0;
    let irVersion: number | undefined;
    let producer: string | undefined;
    let hasGraph = false;
    while (pos < size) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      const key = readVarint(buf, 0, bytesRead);
      const field = Number(key.value >> 3n);
      const wire = Number(key.value & 7n);
      if (!MODEL_FIELDS.has(field)) throw new Error(`unexpected protobuf field ${field} at byte ${pos}`);
      pos += key.length;
      if (wire === 0) {
        const { bytesRead: n } = await handle.read(buf, 0, buf.length, pos);
        const v = readVarint(buf, 0, n);
        if (field === 1) irVersion = Number(v.value);
        pos += v.length;
      } else if (wire === 2) {
        const { bytesRead: n } = await handle.read(buf, 0, buf.length, pos);
        const len = readVarint(buf, 0, n);
        pos += len.length;
        const length = Number(len.value);
        if (pos + length > size) throw new Error(`field ${field} runs past the end of the file`);
        if (field === 2 && length < 256) {
          const s = Buffer.alloc(length);
          await handle.read(s, 0, length, pos);
          producer = s.toString('utf8');
        }
        if (field === 7) hasGraph = true;
        pos += length;
      } else {
        throw new Error(`field ${field} has wire type ${wire}, which ModelProto never uses`);
      }
    }
    if (irVersion === undefined || !hasGraph) throw new Error('no ir_version or graph: not an ONNX model');
    return producer === undefined ? { irVersion } : { irVersion, producer };
  } finally {
    await handle.close();
  }
}

function readVarint(buf: Buffer, start: number, end: number): { value: bigint; length: number } {
  let value = 0n;
  for (let i = start, shift = 0n; i < end && i - start < 10; i++, shift += 7n) {
    const byte = buf[i]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, length: i - start + 1 };
  }
  throw new Error('truncated varint');
}
