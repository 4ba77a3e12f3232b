#!/usr/bin/python3
"""Writes the bad ONNX models and IDX datasets of the robustness catalogue into OUT_DIR
(OUT_DIR/onnx/NAME.onnx, OUT_DIR/idx/NAME/{t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz}).
Each is a small, deliberate defect; run_cases.sh's *.cases name the error each must give.
Usage: make_bad_inputs.py SOURCE_DIR OUT_DIR"""
import gzip, json, os, struct, sys

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np

src, out = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/onnx", exist_ok=True)
lenet_path = f"{src}/models/zoo/lenet5_fmnist.onnx"
lenet_bytes = open(lenet_path, "rb").read()
lenet = onnx.load(lenet_path)
meta = {p.key: p.value for p in lenet.metadata_props}


def save_bytes(name, b):
    open(f"{out}/onnx/{name}.onnx", "wb").write(b)


def model(name, nodes, inits=(), inputs=None, outputs=None, opset=13, keep_meta=True, props=None):
    """A graph x[1,1,28,28] -> ... -> y, with lenet's preprocessing metadata."""
    inputs = inputs if inputs is not None else [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])]
    outputs = outputs if outputs is not None else [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if keep_meta:
        helper.set_model_props(m, meta)
    if props:
        helper.set_model_props(m, props)
    save_bytes(name, m.SerializeToString())


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.int64), name)


def f32(name, shape, n=None):
    a = np.full(shape, 0.01, dtype=np.float32)
    return numpy_helper.from_array(a, name)


N = helper.make_node
# ---- files that are not ONNX models
save_bytes("empty", b"")
save_bytes("truncated_3000", lenet_bytes[:3000])
save_bytes("truncated_half", lenet_bytes[: len(lenet_bytes) // 2])
save_bytes("truncated_last_byte", lenet_bytes[:-1])
save_bytes("text", b"this is not a model\n")
save_bytes("json", b'{"graph": {}}')
m = onnx.ModelProto(); m.ir_version = 8
save_bytes("no_graph", m.SerializeToString())
# ---- graphs the importer must refuse, each naming the node (or tensor) and the rule
model("no_outputs", [N("Relu", ["x"], ["y"], name="relu0")], outputs=[])
model("unsupported_op", [N("LSTM", ["x"], ["y"], name="lstm0")])
model("unknown_domain", [N("Relu", ["x"], ["y"], name="relu0", domain="com.example")])
for op in ["Clip", "Pad", "Slice", "Relu", "Conv", "MatMul", "Gemm", "Add", "Reshape", "Flatten", "Softmax", "MaxPool", "Transpose", "Concat"]:
    model(f"{op.lower()}_no_inputs", [N(op, [], ["y"], name=f"{op.lower()}0")])
model("gemm_one_input", [N("Flatten", ["x"], ["f"], name="flat0"), N("Gemm", ["f"], ["y"], name="gemm0")])
model("add_one_input", [N("Add", ["x"], ["y"], name="add0")])
model("input_not_produced", [N("Relu", ["nowhere"], ["y"], name="relu0")])
model("output_not_produced", [N("Relu", ["x"], ["r"], name="relu0")])
model("reshape_huge_shape", [N("Reshape", ["x", "s"], ["y"], name="reshape0")], [i64("s", [2**62, 2**62])])
model("reshape_two_minus_one", [N("Reshape", ["x", "s"], ["y"], name="reshape0")], [i64("s", [-1, -1])])
model("reshape_wrong_count", [N("Reshape", ["x", "s"], ["y"], name="reshape0")], [i64("s", [1, 1000])])
model("pad_huge_pads", [N("Pad", ["x", "p"], ["y"], name="pad0")], [i64("p", [0, 0, 2**62, 2**62, 0, 0, 2**62, 2**62])])
model("pad_negative_pads", [N("Pad", ["x", "p"], ["y"], name="pad0")], [i64("p", [0, 0, -20, -20, 0, 0, -20, -20])])
model("maxpool_huge_strides", [N("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[2, 2], strides=[2**62, 2**62])])
model("maxpool_kernel_too_big", [N("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[64, 64])])
model("conv_kernel_too_big", [N("Conv", ["x", "w"], ["y"], name="conv0")], [f32("w", [4, 1, 64, 64])])
model("conv_channel_mismatch", [N("Conv", ["x", "w"], ["y"], name="conv0")], [f32("w", [4, 3, 5, 5])])
model("gemm_shape_mismatch", [N("Flatten", ["x"], ["f"], name="flat0"), N("Gemm", ["f", "w"], ["y"], name="gemm0")], [f32("w", [100, 10])])
model("matmul_shape_mismatch", [N("Flatten", ["x"], ["f"], name="flat0"), N("MatMul", ["f", "w"], ["y"], name="matmul0")], [f32("w", [100, 10])])
model("flatten_axis_out_of_range", [N("Flatten", ["x"], ["y"], name="flat0", axis=9)])
model("softmax_axis_out_of_range", [N("Softmax", ["x"], ["y"], name="softmax0", axis=9)])
model("transpose_bad_perm", [N("Transpose", ["x"], ["y"], name="tr0", perm=[0, 0, 1, 2])])
model("slice_zero_step", [N("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="slice0")],
      [i64("st", [0]), i64("en", [10]), i64("ax", [2]), i64("sp", [0])])
model("concat_mismatch", [N("Concat", ["x", "c"], ["y"], name="cat0", axis=1)], [f32("c", [1, 1, 14, 14])])
model("clip_huge_min_input", [N("Clip", ["x", "lo"], ["y"], name="clip0")], [f32("lo", [3])])
model("duplicate_output", [N("Relu", ["x"], ["y"], name="relu0"), N("Relu", ["x"], ["y"], name="relu1")])
model("duplicate_node_name", [N("Relu", ["x"], ["r"], name="act"), N("Relu", ["r"], ["y"], name="act")])
model("cycle", [N("Relu", ["b"], ["a"], name="relu0"), N("Relu", ["a"], ["b"], name="relu1"), N("Relu", ["b"], ["y"], name="relu2")])
model("huge_input_shape", [N("Relu", ["x"], ["y"], name="relu0")],
      inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2**40, 2**40, 28, 28])])
model("negative_input_dim", [N("Relu", ["x"], ["y"], name="relu0")],
      inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, -5, 28, 28])])
model("string_input", [N("Relu", ["x"], ["y"], name="relu0")],
      inputs=[helper.make_tensor_value_info("x", TensorProto.STRING, [1, 1, 28, 28])])
bad = numpy_helper.from_array(np.zeros([4, 1, 5, 5], dtype=np.float32), "w"); bad.raw_data = bad.raw_data[:10]
model("initializer_short_data", [N("Conv", ["x", "w"], ["y"], name="conv0")], [bad])
huge = TensorProto(); huge.name = "w"; huge.data_type = TensorProto.FLOAT; huge.dims.extend([2**31, 2**31, 5, 5]); huge.raw_data = b"\0" * 16
model("initializer_huge_dims", [N("Conv", ["x", "w"], ["y"], name="conv0")], [huge])
model("no_metadata", [N("Relu", ["x"], ["y"], name="relu0")], keep_meta=False)
# A model with preprocessing metadata and a sidecar whose "preprocess" says something else.
save_bytes("sidecar_conflict", lenet_bytes)
side = json.loads(meta["ptcsim.preprocess"]); side["scale"] = 1.0
json.dump({"preprocess": side}, open(f"{out}/onnx/sidecar_conflict.json", "w"))
m = onnx.load(lenet_path)
for p in m.metadata_props:
    if p.key == "ptcsim.preprocess": p.value = "{not json"
save_bytes("metadata_bad_json", m.SerializeToString())
m = onnx.load(lenet_path)
for p in m.metadata_props:
    if p.key == "ptcsim.preprocess": p.value = '{"input_shape": [1, 28, 28], "scale": "big"}'
save_bytes("metadata_bad_scale", m.SerializeToString())
m = onnx.load(lenet_path)
for p in m.metadata_props:
    if p.key == "ptcsim.preprocess": p.value = p.value.replace('"fashion-mnist"', '"cifar-10"')
save_bytes("metadata_other_dataset", m.SerializeToString())
m = onnx.load(lenet_path)
m.graph.node[0].op_type = "ConvTranspose"
save_bytes("lenet_wrong_op", m.SerializeToString())
# ---- classifiers the simulator cannot serve (models/accuracy.h check_classifier): fixed batch,
# a Reshape that hard-codes batch 1, two outputs, two inputs, 5 or 1000 logits, an [N, 784] input
m = onnx.load(lenet_path)
m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
save_bytes("lenet_fixed_batch", m.SerializeToString())
m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4
save_bytes("lenet_fixed_batch_4", m.SerializeToString())
m = onnx.load(lenet_path)
m.graph.output.append(helper.make_tensor_value_info(m.graph.node[0].output[0], TensorProto.FLOAT, None))
save_bytes("lenet_two_outputs", m.SerializeToString())
m = onnx.load(lenet_path)
m.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
save_bytes("lenet_two_inputs", m.SerializeToString())
dyn = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])]
model("reshape_batch_1", [N("Reshape", ["x", "s"], ["f"], name="reshape0"), N("Gemm", ["f", "w"], ["y"], name="gemm0", transB=1)],
      inits=[i64("s", [1, -1]), f32("w", [10, 784])], inputs=dyn)
flat = [N("Flatten", ["x"], ["f"], name="flat0"), N("Gemm", ["f", "w"], ["y"], name="gemm0", transB=1)]
model("five_logits", flat, inits=[f32("w", [5, 784])], inputs=dyn)
nometa = json.loads(meta["ptcsim.preprocess"]); del nometa["classes"]
model("thousand_logits_no_classes", flat, inits=[f32("w", [1000, 784])], inputs=dyn, keep_meta=False,
      props={"ptcsim.preprocess": json.dumps(nometa)})
model("no_weights", [N("Flatten", ["x"], ["f"], name="flat0"), N("Slice", ["f", "st", "en", "ax"], ["y"], name="slice0")],
      inits=[i64("st", [0]), i64("en", [10]), i64("ax", [1])], inputs=dyn)
model("flat_input", [N("Gemm", ["x", "w"], ["y"], name="gemm0", transB=1)], inits=[f32("w", [10, 784])],
      inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])])

# ---- IDX datasets: t10k images/labels from the Debian package, each pair with one defect
ds = "/usr/share/datasets/fashion-mnist"
imgs = gzip.open(f"{ds}/t10k-images-idx3-ubyte.gz").read()
labs = gzip.open(f"{ds}/t10k-labels-idx1-ubyte.gz").read()


def idx(name, images=imgs, labels=labs, raw_images=None):
    d = f"{out}/idx/{name}"
    os.makedirs(d, exist_ok=True)
    if images is not None:
        open(f"{d}/t10k-images-idx3-ubyte.gz", "wb").write(raw_images if raw_images is not None else gzip.compress(images, 1))
    if labels is not None:
        open(f"{d}/t10k-labels-idx1-ubyte.gz", "wb").write(gzip.compress(labels, 1))


def hdr(dims, magic=0x08):
    return bytes([0, 0, magic, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims)


body = imgs[16:]
idx("images_truncated", images=imgs[: len(imgs) // 2])
idx("images_header_only", images=imgs[:16])
idx("images_short_header", images=imgs[:10])
idx("images_empty", images=b"")
idx("images_extra_bytes", images=imgs + b"\0" * 100)
idx("images_wrong_magic", images=b"\x08\x08" + imgs[2:])
idx("images_float_type", images=hdr([10000, 28, 28], magic=0x0D) + body)
idx("images_ndim_0", images=hdr([]) + body)
idx("images_ndim_9", images=bytes([0, 0, 8, 9]) + b"\0" * 36 + body)
idx("images_huge_dims", images=hdr([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]) + body[:1000])
idx("images_huge_count", images=hdr([0xFFFFFFFF, 28, 28]) + body[:1000])
idx("images_zero_count", images=hdr([0, 28, 28]))
idx("images_wrong_size", images=hdr([10000, 32, 32]) + body + b"\0" * (10000 * (1024 - 784)))
idx("images_2d", images=hdr([10000, 784]) + body)
idx("count_mismatch", labels=labs[:8] + labs[8:5008], images=hdr([10000, 28, 28]) + body)
idx("labels_count_mismatch", labels=hdr([5000])[:8] + labs[8:5008])
idx("labels_truncated", labels=labs[:1000])
idx("labels_out_of_range", labels=labs[:8] + bytes([200]) * 10000)
idx("labels_wrong_magic", labels=b"\x01\x02\x03\x04" + labs[4:])
idx("images_missing", images=None)
idx("labels_missing", labels=None)
idx("images_not_gzip_corrupt", raw_images=b"\x1f\x8b\x08\x00" + b"\xff" * 5000)
idx("images_gzip_truncated", raw_images=gzip.compress(imgs, 1)[:4000])
os.makedirs(f"{out}/idx/images_is_dir/t10k-images-idx3-ubyte.gz", exist_ok=True)
idx("images_is_dir", images=None)
