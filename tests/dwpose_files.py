"""Fake `yzd-v/DWPose` ONNX files with the real graphs' inputs and outputs (YOLOX-L: images 1x3x640x640 -> output
1x8400x85 over strides 8/16/32, objectness and class scores already sigmoid; RTMPose-L 384x288: input 1x3x384x288 ->
simcc_x 1x133x576 and simcc_y 1x133x768) and seeded random weights, written with the `onnx` package's graph helpers,
not with the code under test. The layers between are small stand-ins (pooling and 1x1 convolutions), so a test can
recompute any output from the file's own weights with numpy."""

from __future__ import annotations

import numpy as np

from preprocessors.registry import DWPOSE, DWPOSE_FILES

DETECTOR_FILE, POSE_FILE = DWPOSE_FILES
STRIDES = (8, 16, 32)
KEYPOINTS = 133
POSE_SIZE = (288, 384)  # the pose model's input, width x height; SimCC splits each pixel in two


def _conv(helper, numpy_helper, name: str, source: str, weight: np.ndarray, bias: np.ndarray, nodes: list, inits: list) -> str:
    inits += [numpy_helper.from_array(weight, f"{name}.weight"), numpy_helper.from_array(bias, f"{name}.bias")]
    nodes.append(helper.make_node("Conv", [source, f"{name}.weight", f"{name}.bias"], [name], name=name))
    return name


def _constant(numpy_helper, name: str, values, inits: list) -> str:
    inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
    return name


def detector_model(rng: np.random.Generator):
    """YOLOX's outputs per stride: 4 box terms (raw), then objectness and 80 COCO class scores through a sigmoid."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, flat = [], [], []
    for stride in STRIDES:
        pooled = f"pool{stride}"
        nodes.append(helper.make_node("AveragePool", ["images"], [pooled], kernel_shape=[stride, stride], strides=[stride, stride]))
        box = _conv(helper, numpy_helper, f"box{stride}", pooled, rng.normal(0, 0.01, (4, 3, 1, 1)).astype(np.float32),
                    rng.normal(0, 0.5, 4).astype(np.float32), nodes, inits)
        logits = _conv(helper, numpy_helper, f"cls{stride}", pooled, rng.normal(0, 0.01, (81, 3, 1, 1)).astype(np.float32),
                       rng.normal(0, 1.0, 81).astype(np.float32), nodes, inits)
        nodes.append(helper.make_node("Sigmoid", [logits], [f"score{stride}"]))
        nodes.append(helper.make_node("Concat", [box, f"score{stride}"], [f"head{stride}"], axis=1))
        cells = (640 // stride) ** 2
        nodes.append(helper.make_node("Reshape", [f"head{stride}", _constant(numpy_helper, f"shape{stride}", [1, 85, cells], inits)],
                                      [f"flat{stride}"]))
        flat.append(f"flat{stride}")
    nodes.append(helper.make_node("Concat", flat, ["joined"], axis=2))
    nodes.append(helper.make_node("Transpose", ["joined"], ["output"], perm=[0, 2, 1]))
    graph = helper.make_graph(nodes, "yolox_l", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 8400, 85])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def pose_model(rng: np.random.Generator):
    """Per keypoint, scores along each axis: the picture averaged over the other axis, two 1x1-convolution outputs per
    pixel interleaved into SimCC's half-pixel bins."""
    from onnx import TensorProto, helper, numpy_helper

    width, height = POSE_SIZE
    nodes, inits = [], []
    for axis, kernel, cells in (("x", [height, 1], width), ("y", [1, width], height)):
        nodes.append(helper.make_node("AveragePool", ["input"], [f"pool_{axis}"], kernel_shape=kernel, strides=kernel))
        conv = _conv(helper, numpy_helper, f"head_{axis}", f"pool_{axis}",
                     rng.normal(0, 1.0, (2 * KEYPOINTS, 3, 1, 1)).astype(np.float32),
                     rng.normal(0, 0.1, 2 * KEYPOINTS).astype(np.float32), nodes, inits)
        nodes.append(helper.make_node("Reshape", [conv, _constant(numpy_helper, f"pairs_{axis}", [1, KEYPOINTS, 2, cells], inits)],
                                      [f"pairs_{axis}_out"]))
        nodes.append(helper.make_node("Transpose", [f"pairs_{axis}_out"], [f"bins_{axis}"], perm=[0, 1, 3, 2]))
        nodes.append(helper.make_node("Reshape", [f"bins_{axis}", _constant(numpy_helper, f"simcc_shape_{axis}",
                                                                               [1, KEYPOINTS, 2 * cells], inits)],
                                      [f"simcc_{axis}"]))
    graph = helper.make_graph(nodes, "rtmpose_l", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
                              [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, KEYPOINTS, 2 * width]),
                               helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [1, KEYPOINTS, 2 * height])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def build_dwpose_files(cache_dir) -> None:
    """Both files into the hub cache under their real names."""
    import onnx

    from tests.fakehub import add_file

    for seed, (filename, build) in enumerate(((DETECTOR_FILE, detector_model), (POSE_FILE, pose_model))):
        model = build(np.random.default_rng(200 + seed))
        onnx.checker.check_model(model)
        add_file(cache_dir, DWPOSE, filename, model.SerializeToString())


def simcc_from_file(model, picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pose file's outputs for a 1x3x384x288 input, recomputed with numpy from the file's weights."""
    from onnx import numpy_helper

    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    out = []
    for axis, mean_over in (("x", 1), ("y", 2)):
        pooled = picture[0].mean(axis=mean_over)  # 3 x cells
        scores = np.einsum("oc,cn->on", weights[f"head_{axis}.weight"][:, :, 0, 0], pooled) + weights[f"head_{axis}.bias"][:, None]
        out.append(scores.reshape(KEYPOINTS, 2, -1).transpose(0, 2, 1).reshape(KEYPOINTS, -1))
    return out[0], out[1]


def detector_from_file(model, images: np.ndarray) -> np.ndarray:
    """The detector file's 8400x85 output for a 1x3x640x640 input, recomputed with numpy from the file's weights."""
    from onnx import numpy_helper

    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    rows = []
    for stride in STRIDES:
        side = 640 // stride
        pooled = images[0].reshape(3, side, stride, side, stride).mean(axis=(2, 4)).reshape(3, -1)
        box = weights[f"box{stride}.weight"][:, :, 0, 0] @ pooled + weights[f"box{stride}.bias"][:, None]
        logits = weights[f"cls{stride}.weight"][:, :, 0, 0] @ pooled + weights[f"cls{stride}.bias"][:, None]
        rows.append(np.concatenate([box, 1 / (1 + np.exp(-logits))]).T)
    return np.concatenate(rows)
