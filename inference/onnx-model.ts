/**
 * What the inference engine reads from an ONNX file itself, because onnxruntime-node does not
 * expose it: the number of rows of the word-embedding table (the model's vocabulary size).
 *
 * Why the graph and not metadata: a model exported by someone else's Hugging Face export
 * (optimum, torch.onnx, a quantizer) carries no fairline metadata, but every one of them looks
 * token ids up in an embedding table, so the table's dims are in the file whoever wrote it.
 *
 * Only the few protobuf fields this needs are declared (onnx.proto3 field numbers); protobufjs
 * skips every other field, tensor bytes included, so decoding a large model allocates little
 * beyond the file itself. Initializers kept as external data still carry their dims here.
 */
import protobuf from 'protobufjs';
import { z } from 'zod';

/** The ModelProto fields that lead to node wiring and tensor shapes (onnx/onnx.proto3). */
const ONNX_SUBSET = {
  nested: {
    onnx: {
      nested: {
        ModelProto: { fields: { graph: { type: 'GraphProto', id: 7 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: { fields: { name: { type: 'string', id: 1 }, t: { type: 'TensorProto', id: 5 } } },
        TensorProto: { fields: { dims: { rule: 'repeated', type: 'int64', id: 1 }, name: { type: 'string', id: 8 } } },
      },
    },
  },
};

const tensorSchema = z.object({ dims: z.array(z.number()), name: z.string() });
const graphSchema = z.object({
  node: z.array(
    z.object({
      input: z.array(z.string()),
      output: z.array(z.string()),
      opType: z.string(),
      attribute: z.array(z.object({ name: z.string(), t: tensorSchema.nullable() })),
    }),
  ),
  initializer: z.array(tensorSchema),
});
const modelSchema = z.object({ graph: graphSchema.nullable() });

/** Ops that hand their first input on with the same values (ids may be cast or reshaped before the lookup). */
const VALUE_PRESERVING = new Set(['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']);
/** Ops between a stored table and its lookup that keep its rows (a quantized or cast table). */
const TABLE_PRESERVING = new Set(['DequantizeLinear', 'Cast', 'Identity']);
/** Lookups of ids in a table: op → [which input holds the ids, which holds the table]. */
const LOOKUPS: Record<string, [ids: number, table: number]> = {
  Gather: [1, 0],
  // int4/int8 block-quantized tables (onnxruntime contrib op)
  GatherBlockQuantized: [1, 0],
  // onnxruntime's fused BERT embedding (what its transformer optimizer writes)
  EmbedLayerNormalization: [0, 2],
};

let modelType: protobuf.Type | undefined;

/**
 * Rows of the table the graph input `input_ids` is looked up in: the model's vocabulary size, the
 * smallest if several tables take the ids. undefined when the graph does no such lookup that this
 * reader recognises (the caller then relies on onnxruntime's bounds check of the ids).
 * Throws when the bytes do not decode as an ONNX model.
 */
export function embeddingRows(bytes: Uint8Array): number | undefined {
  modelType ??= protobuf.Root.fromJSON(ONNX_SUBSET).lookupType('onnx.ModelProto');
  const decoded = modelType.toObject(modelType.decode(bytes), { longs: Number, arrays: true, defaults: true });
  const parsed = modelSchema.safeParse(decoded);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`unexpected ONNX structure at ${first?.path.join('.')}: ${first?.message}`);
  }
  const graph = parsed.data.graph;
  if (graph === null) return undefined;

  const shapes = new Map<string, number[]>(graph.initializer.map((t) => [t.name, t.dims]));
  const producers = new Map<string, (typeof graph.node)[number]>();
  for (const node of graph.node) {
    for (const output of node.output) producers.set(output, node);
    const value = node.opType === 'Constant' ? node.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value != null && node.output[0] !== undefined) shapes.set(node.output[0], value.dims);
  }
  const tableRows = (name: string, depth = 0): number | undefined => {
    const dims = shapes.get(name);
    if (dims !== undefined) return dims.length === 2 ? dims[0] : undefined;
    const producer = producers.get(name);
    if (
      producer === undefined ||
      depth > 4 ||
      !TABLE_PRESERVING.has(producer.opType) ||
      producer.input[0] === undefined
    )
      return undefined;
    return tableRows(producer.input[0], depth + 1);
  };

  // ONNX nodes are stored in topological order, so one pass follows the ids forward.
  const ids = new Set(['input_ids']);
  const rows: number[] = [];
  for (const node of graph.node) {
    const first = node.input[0];
    if (VALUE_PRESERVING.has(node.opType) && first !== undefined && ids.has(first))
      node.output.forEach((o) => ids.add(o));
    const lookup = LOOKUPS[node.opType];
    if (lookup === undefined) continue;
    const [idsAt, tableAt] = lookup;
    const idsName = node.input[idsAt];
    const table = node.input[tableAt];
    if (idsName === undefined || table === undefined || !ids.has(idsName)) continue;
    const n = tableRows(table);
    if (n !== undefined && n > 0) rows.push(n);
  }
  return rows.length > 0 ? Math.min(...rows) : undefined;
}
