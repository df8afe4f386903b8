"""A tensor computed once per process on first use, never stored in a SavedModel.

ABS's decoded prototypes (10 x 10^4 x 785 floats) and the nearest neighbour's training
images must not be saved with the model, nor recomputed, nor copied on every call (a copy of
ABS's 314 MB costs tens of milliseconds: much of a single image's latency budget).

They live in a resource variable that the graph itself names (`VarHandleOp` with a
`shared_name` unique to this object), not in a Python-tracked `tf.Variable`: a tracked
variable would be saved with its contents, and Keras' `TFSMLayer` refuses variables of
unknown shape; a graph-named one is invisible to both. The first call assigns it, later calls
read it without a copy. It lives in the process's resource manager (in TF Serving's session,
the session's), so every function that refers to the name shares it: two loads of the same
SavedModel in one process share one cache, which is correct because they are the same model.
The cache of a Python object is freed with the object; that of a loaded SavedModel stays
until the process ends.
"""

import uuid
import weakref

import tensorflow as tf


class ComputedOnce(tf.Module):
  """Rows [num_rows, row_size] float32 computed by `compute()` on first `get`.

  Args:
    num_rows, row_size: the shape of what `compute` returns.
  """

  def __init__(self, num_rows: int, row_size: int, name=None):
    super().__init__(name=name)
    self.num_rows, self.row_size = int(num_rows), int(row_size)
    self.shared_name = f"computed_once_{name or 'rows'}_{uuid.uuid4().hex}"
    finalizer = weakref.finalize(self, _destroy, self.shared_name,
                                 [self.num_rows, self.row_size])
    finalizer.atexit = False  # TensorFlow may be gone by then; the process frees it anyway

  def _handle(self):
    return _handle(self.shared_name, [self.num_rows, self.row_size])

  def get(self, compute):
    """The rows, float32 [num_rows, row_size]; `compute` runs only if not yet computed."""
    handle = self._handle()

    def fill():
      rows = tf.ensure_shape(compute(), [self.num_rows, self.row_size])
      with tf.control_dependencies([tf.raw_ops.AssignVariableOp(resource=handle, value=rows)]):
        return tf.identity(rows)

    def read():
      return tf.raw_ops.ReadVariableOp(resource=handle, dtype=tf.float32)

    rows = tf.cond(tf.raw_ops.VarIsInitializedOp(resource=handle), read, fill)
    return tf.ensure_shape(rows, [self.num_rows, self.row_size])

  def reset(self):
    """Empties the cache (before export, or after the weights it depends on change)."""
    _destroy(self.shared_name, [self.num_rows, self.row_size])

  def is_filled(self) -> bool:
    return bool(tf.raw_ops.VarIsInitializedOp(resource=self._handle()))


def _handle(shared_name, shape):
  return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=shape, shared_name=shared_name)


def _destroy(shared_name, shape):
  with tf.init_scope():  # eagerly, also when called while a graph is being traced
    tf.raw_ops.DestroyResourceOp(resource=_handle(shared_name, shape), ignore_lookup_error=True)
