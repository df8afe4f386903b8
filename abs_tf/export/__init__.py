"""Export of models as SavedModels with this project's serving signature.

  abs_tf.export.export_classifier(my_keras_model, "my_model/1")   # your own model
"""


def export_classifier(model, export_dir, **kwargs):
  """See `abs_tf.export.classifier_export.export_classifier`."""
  from abs_tf.export import classifier_export  # Imported lazily: TensorFlow is slow to import.
  return classifier_export.export_classifier(model, export_dir, **kwargs)
