"""What TF Serving needs beside a SavedModel: warmup requests and the batching configuration.

A served ABS model compiles its latent search once per batch bucket (`abs_model.BATCH_BUCKETS`)
and decodes its prototypes on the first request. `tensorflow_model_server
--enable_model_warmup` replays `assets.extra/tf_serving_warmup_requests` (a TFRecord file of
`PredictionLog` protos) when it loads a model, so that both happen before the first real
request; the batching configuration (`--enable_batching --batching_parameters_file=...`,
`serving/batching_parameters.txt`) pads the server's batches to the same buckets, so that
after the warmup no request meets an uncompiled size.

References:
  TF Serving, "SavedModel Warmup" and "TensorFlow Serving Batching Guide"
  (tensorflow.org/tfx/serving/saved_model_warmup, .../serving/batching).
"""

import pathlib
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from abs_tf import resources
from abs_tf.models import classifier

WARMUP_FILE = pathlib.Path("assets.extra", "tf_serving_warmup_requests")
# The largest batch the shipped batching configuration forms (each warmup request is one
# batch, and the file lives in git and in the wheel: keep it small).
MAX_BATCH_SIZE = 64
BATCHING_PARAMETERS = "batching_parameters.txt"


def warmup_batch_sizes(model: classifier.Classifier) -> Tuple[int, ...]:
  """The batch sizes a served `model` compiles for, up to MAX_BATCH_SIZE (may be empty)."""
  return tuple(size for size in model.batch_buckets() if size <= MAX_BATCH_SIZE)


def write_warmup_requests(export_dir, sizes: Sequence[int], model_name: str) -> pathlib.Path:
  """Writes one `serving_default` request of mid-grey images per batch size.

  Args:
    export_dir: a SavedModel directory.
    sizes: the batch sizes, one request each.
    model_name: the name the server serves the model under (TF Serving ignores it here).

  Returns:
    The path of the written file.
  """
  path = pathlib.Path(export_dir) / WARMUP_FILE
  path.parent.mkdir(parents=True, exist_ok=True)
  with tf.io.TFRecordWriter(str(path)) as writer:
    for size in sizes:
      # One value stands for all: TensorFlow repeats a proto's last value to fill its shape.
      images = tf.make_tensor_proto(0.5, tf.float32, [int(size)] + list(classifier.IMAGE_SHAPE))
      request = predict_pb2.PredictRequest(
          model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default"),
          inputs={"images": images})
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())
  return path


def read_warmup_requests(export_dir) -> List[Tuple[str, Dict[str, np.ndarray]]]:
  """The warmup requests of a SavedModel, as (signature name, inputs) pairs.

  Raises:
    FileNotFoundError: the SavedModel has no warmup file.
  """
  path = pathlib.Path(export_dir) / WARMUP_FILE
  if not path.is_file():
    raise FileNotFoundError(f"{path} is missing: {export_dir} has no TF Serving warmup file.")
  requests = []
  for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
    request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
    requests.append((request.model_spec.signature_name,
                     {key: tf.make_ndarray(value) for key, value in request.inputs.items()}))
  return requests


def batching_parameters(sizes: Sequence[int]) -> str:
  """TF Serving's BatchingParameters (text format) that pad batches to `sizes`.

  Args:
    sizes: increasing batch sizes; the last is the largest batch formed.
  """
  sizes = [int(size) for size in sizes]
  if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 1:
    raise ValueError(f"sizes must be increasing positive integers, got {sizes}.")
  lines = [f"max_batch_size {{ value: {sizes[-1]} }}",
           "batch_timeout_micros { value: 5000 }",
           "max_enqueued_batches { value: 100 }",
           "num_batch_threads { value: 2 }"]
  lines += [f"allowed_batch_sizes: {size}" for size in sizes]
  lines.append("pad_variable_length_inputs: false")
  return "\n".join(lines) + "\n"


def batching_parameters_path() -> pathlib.Path:
  """The shipped batching configuration (serving/batching_parameters.txt)."""
  return resources.resource_dir("serving") / BATCHING_PARAMETERS
