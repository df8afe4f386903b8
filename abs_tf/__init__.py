"""abs-tf: the Analysis by Synthesis model of Schott et al. (ICLR 2019) in TensorFlow, with
the paper's baselines, attacks and evaluation.

  import abs_tf
  model = abs_tf.load_model("abs")
  logits = model(images)   # float32 [B, 28, 28, 1] in [0, 1] -> [B, 10]
"""

__version__ = "0.1.0"


def load_model(name, source="memory"):
  """See `abs_tf.registry.load_model`."""
  from abs_tf import registry  # Imported lazily: TensorFlow is slow to import.
  return registry.load_model(name, source)
