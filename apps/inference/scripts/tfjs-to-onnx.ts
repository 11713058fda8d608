/**
 * A tfjs graph model (model.json + .bin) -> an ONNX opset 13 graph, for the ops a MobileNet-style
 * detector uses. Why our own converter: no npm or Debian package converts tfjs graphs to ONNX
 * (tf2onnx is Python and needs TensorFlow), and the graph is small and regular: ~200 ops of 14 kinds.
 *
 * How: tfjs (core + converter + cpu backend) loads the graph and runs it once on a real-sized input;
 * that gives the shape of every value (needed for SAME padding and for layout changes) and the
 * value of every node that depends only on constants (those are folded into initializers). Then
 * each remaining op is written in NCHW, ONNX's layout: one Transpose after the input, one after
 * each output would be needed to go back; we keep the outputs NCHW (channel-major), which is what
 * the JS decoder wants (one class's heatmap is contiguous).
 *
 * The input is uint8 NHWC (the camera's raw detect frame as it comes); the Cast to float is in the
 * graph, so JS does no per-pixel work on raw frames.
 *
 * Deterministic: same model files in, same bytes out (protobufjs writes fields in schema order;
 * floats come from tfjs' decode of the same .bin; node order is the tfjs topology order).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { DT, type GraphDef, type Initializer, type NodeDef } from '../src/model/onnx-proto.ts';

/** A tfjs graph node as model.json stores it. */
interface TfNode { name: string; op: string; input?: string[]; attr?: Record<string, TfAttr> }
interface TfAttr { s?: string; i?: string; f?: number; b?: boolean; list?: { i?: string[]; s?: string[] }; type?: string; tensor?: unknown }

/** A loaded tfjs graph: the model, its nodes by name, and its input name. */
export interface TfjsGraph { model: GraphModel; nodes: Map<string, TfNode>; order: TfNode[]; inputName: string; inputShape: number[] }

/** Loads a tfjs graph model from a model.json on disk (no fetch, no file:// handler needed). */
export async function loadTfjsGraph(modelJson: string): Promise<TfjsGraph> {
  await tf.setBackend('cpu');
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as {
    modelTopology: { node: TfNode[] }; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    signature?: unknown; format?: string; generatedBy?: string; convertedBy?: string;
  };
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const bins = json.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(join(dirname(modelJson), p)));
  const all = Buffer.concat(bins);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData,
    ...(json.signature ? { signature: json.signature as object } : {}),
    ...(json.format ? { format: json.format } : {}),
  }));
  const order = json.modelTopology.node;
  const nodes = new Map(order.map((n) => [n.name, n]));
  const ph = order.find((n) => n.op === 'Placeholder');
  if (!ph) throw new Error(`${modelJson}: no Placeholder (input) node`);
  const dims = (ph.attr?.shape as { shape?: { dim?: { size: string }[] } } | undefined)?.shape?.dim?.map((d) => Number(d.size));
  const inputShape = dims && dims.every((d) => d > 0) ? dims : [];
  return { model, nodes, order, inputName: ph.name, inputShape };
}

const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
const ints = (a: TfAttr | undefined) => (a?.list?.i ?? []).map(Number);
const baseName = (input: string) => input.replace(/^\^/, '').replace(/:0$/, '');

/** Options of one conversion. */
export interface ConvertOptions {
  /** tfjs node names to cut at: they become the ONNX outputs (NCHW), in this order. */
  outputs: readonly { node: string; name: string }[];
  /** Name of the ONNX input (uint8 NHWC). */
  inputName: string;
  /** A real-sized input to run once (shapes, constant folding); default zeros of the input shape. */
  probe?: tf.Tensor4D;
  graphName: string;
  metadata?: Record<string, string>;
  doc?: string;
}

/** NHWC axis -> NCHW axis. */
const toNchwAxis = (a: number, rank = 4) => [0, 2, 3, 1][(a + rank) % rank]!;

/** Converts the part of `g` that the outputs need. Returns the ONNX graph (write it with encodeModel). */
export async function convertTfjsGraph(g: TfjsGraph, o: ConvertOptions): Promise<GraphDef> {
  // The sub-graph the outputs need, in topology order.
  const need = new Set<string>();
  const stack = o.outputs.map((x) => x.node);
  while (stack.length) {
    const n = baseName(stack.pop()!);
    if (need.has(n)) continue;
    const node = g.nodes.get(n);
    if (!node) throw new Error(`node ${n} not in the graph`);
    need.add(n);
    for (const i of node.input ?? []) if (!i.startsWith('^')) stack.push(i);
  }
  const order = g.order.filter((n) => need.has(n.name));
  // Which values are constant (Const, or an op of constants only): folded from the tfjs run.
  const constant = new Set<string>();
  for (const n of order) {
    if (n.op === 'Const' || (n.op !== 'Placeholder' && (n.input ?? []).every((i) => constant.has(baseName(i))))) constant.add(n.name);
  }
  const shape = g.inputShape.length === 4 ? g.inputShape : [1, 512, 512, 3];
  const probe = o.probe ?? tf.zeros(shape as [number, number, number, number]);
  const names = order.filter((n) => n.op !== 'Placeholder').map((n) => n.name);
  const values = g.model.execute({ [g.inputName]: probe }, names) as tf.Tensor[];
  const shapes = new Map<string, number[]>(names.map((n, i) => [n, values[i]!.shape]));
  shapes.set(g.inputName, probe.shape);
  const constValue = new Map<string, tf.Tensor>();
  names.forEach((n, i) => { if (constant.has(n)) constValue.set(n, values[i]!); else values[i]!.dispose(); });

  const nodes: NodeDef[] = [];
  const initializers: Initializer[] = [];
  const used = new Set<string>();
  const init = (name: string, dims: readonly number[], data: ArrayLike<number>, kind: 'float' | 'int64' = 'float') => {
    if (!used.has(name)) {
      used.add(name);
      initializers.push(kind === 'float' ? { name, dims, floats: data } : { name, dims, int64s: data });
    }
    return name;
  };
  const c = (name: string) => {
    const t = constValue.get(baseName(name));
    if (!t) throw new Error(`${name}: expected a constant`);
    return t;
  };
  /** A constant operand of an elementwise op, in NCHW broadcast form. */
  const elementwiseConst = (name: string) => {
    const t = c(name);
    const data = t.dataSync();
    if (t.rank === 0) return init(`${baseName(name)}`, [], data);
    if (t.rank === 1) return init(`${baseName(name)}`, [1, t.shape[0]!, 1, 1], data);
    if (t.rank === 4) return init(`${baseName(name)}`, [t.shape[0]!, t.shape[3]!, t.shape[1]!, t.shape[2]!], tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync()));
    throw new Error(`${name}: constant of rank ${t.rank} in an elementwise op`);
  };
  const operand = (name: string) => (constant.has(baseName(name)) ? elementwiseConst(name) : baseName(name));

  // Input: uint8 NHWC -> float -> NCHW.
  nodes.push({ op: 'Cast', inputs: [o.inputName], outputs: ['input_float'], attrs: { to: DT.FLOAT } });
  nodes.push({ op: 'Transpose', inputs: ['input_float'], outputs: [g.inputName], attrs: { perm: [0, 3, 1, 2] } });

  for (const n of order) {
    if (constant.has(n.name) || n.op === 'Placeholder') continue;
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const a = n.attr ?? {};
    const out = [n.name];
    switch (n.op) {
      case '_FusedConv2D': case 'Conv2D': case 'FusedDepthwiseConv2dNative': case 'DepthwiseConv2dNative': {
        const depthwise = n.op.includes('Depthwise');
        const fused = (a.fused_ops?.list?.s ?? []).map(b64);
        if (b64(a.data_format?.s) !== 'NHWC' && a.data_format) throw new Error(`${n.name}: data_format ${b64(a.data_format.s)}`);
        if (fused.some((f) => f !== 'BiasAdd' && f !== 'Relu')) throw new Error(`${n.name}: fused ops ${fused.join(',')} not supported`);
        const filter = c(ins[1]!);
        const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
        // TF [kh,kw,in,out] -> ONNX [out,in,kh,kw]; depthwise [kh,kw,in,mult] -> [in*mult,1,kh,kw].
        const w = tf.tidy(() => (depthwise
          ? tf.reshape(tf.transpose(filter, [2, 3, 0, 1]), [cin * cout, 1, kh, kw])
          : tf.transpose(filter, [3, 2, 0, 1])).dataSync());
        const wName = init(`${baseName(ins[1]!)}_oihw`, depthwise ? [cin * cout, 1, kh, kw] : [cout, cin, kh, kw], w);
        const strides = ints(a.strides).slice(1, 3);
        const dilations = a.dilations ? ints(a.dilations).slice(1, 3) : [1, 1];
        const inShape = shapes.get(baseName(ins[0]!))!;
        const pads = padsOf(b64(a.padding?.s), inShape[1]!, inShape[2]!, kh, kw, strides, dilations, n.name);
        const convIns = [baseName(ins[0]!), wName];
        if (fused.includes('BiasAdd')) convIns.push(init(baseName(ins[2]!), [c(ins[2]!).size], c(ins[2]!).dataSync()));
        const relu = fused.includes('Relu');
        nodes.push({
          op: 'Conv', inputs: convIns, outputs: relu ? [`${n.name}_pre`] : out, name: n.name,
          attrs: { kernel_shape: [kh, kw], strides, dilations, pads, group: depthwise ? cin : 1 },
        });
        if (relu) nodes.push({ op: 'Relu', inputs: [`${n.name}_pre`], outputs: out });
        break;
      }
      case 'Mul': case 'Add': case 'Sub': case 'AddV2':
        nodes.push({ op: n.op === 'AddV2' ? 'Add' : n.op, inputs: ins.map(operand), outputs: out, name: n.name });
        break;
      case 'Relu': case 'Sigmoid': case 'Identity':
        nodes.push({ op: n.op, inputs: [baseName(ins[0]!)], outputs: out, name: n.name });
        break;
      case 'Relu6':
        nodes.push({ op: 'Clip', inputs: [baseName(ins[0]!), init('relu6_min', [], [0]), init('relu6_max', [], [6])], outputs: out, name: n.name });
        break;
      case 'Mean': {
        const axes = Array.from(c(ins[1]!).dataSync()).map((x) => toNchwAxis(x));
        nodes.push({ op: 'ReduceMean', inputs: [baseName(ins[0]!)], outputs: out, name: n.name, attrs: { axes, keepdims: a.keep_dims?.b ? 1 : 0 } });
        break;
      }
      case 'ConcatV2': {
        const axis = toNchwAxis(c(ins.at(-1)!).dataSync()[0]!);
        nodes.push({ op: 'Concat', inputs: ins.slice(0, -1).map(operand), outputs: out, name: n.name, attrs: { axis } });
        break;
      }
      case 'ResizeBilinear': {
        if (a.align_corners?.b || a.half_pixel_centers?.b) throw new Error(`${n.name}: only align_corners=false, half_pixel_centers=false is mapped`);
        const s = shapes.get(n.name)!;
        const sizes = init(`${n.name}_sizes`, [4], [s[0]!, s[3]!, s[1]!, s[2]!], 'int64');
        // TF's legacy resize (no half-pixel offset) is ONNX's "asymmetric" transform.
        nodes.push({ op: 'Resize', inputs: [baseName(ins[0]!), '', '', sizes], outputs: out, name: n.name, attrs: { mode: 'linear', coordinate_transformation_mode: 'asymmetric' } });
        break;
      }
      default:
        throw new Error(`${n.name}: tfjs op ${n.op} has no ONNX mapping here`);
    }
  }
  for (const t of constValue.values()) t.dispose();
  if (!o.probe) probe.dispose();
  return {
    name: o.graphName,
    inputs: [{ name: o.inputName, type: DT.UINT8, shape: [shape[0]!, shape[1]!, shape[2]!, shape[3]!] }],
    outputs: o.outputs.map((x) => {
      const s = shapes.get(x.node)!;
      return { name: x.name, type: DT.FLOAT, shape: [s[0]!, s[3]!, s[1]!, s[2]!] };
    }),
    nodes: [...nodes, ...o.outputs.map((x): NodeDef => ({ op: 'Identity', inputs: [x.node], outputs: [x.name], name: `output_${x.name}` }))],
    initializers,
    opset: 13,
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.doc ? { doc: o.doc } : {}),
  };
}

/** ONNX pads [top, left, bottom, right] for TF's SAME / VALID (SAME puts the odd pixel at the end). */
export function padsOf(padding: string, h: number, w: number, kh: number, kw: number, s: number[], d: number[], node: string): number[] {
  if (padding === 'VALID') return [0, 0, 0, 0];
  if (padding !== 'SAME') throw new Error(`${node}: padding ${padding} not supported`);
  const one = (size: number, k: number, stride: number, dil: number) => {
    const eff = (k - 1) * dil + 1;
    const total = Math.max((Math.ceil(size / stride) - 1) * stride + eff - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as const;
  };
  const [t, b] = one(h, kh, s[0]!, d[0]!);
  const [l, r] = one(w, kw, s[1]!, d[1]!);
  return [t, l, b, r];
}
