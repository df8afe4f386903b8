"""A tensor computed once per process on first use, never stored in a SavedModel.

ABS's decoded prototypes (10 x 10^4 x 785 floats) and the nearest neighbour's training
images must not be saved with the model, nor recomputed on every call. They live in a
`tf.lookup.experimental.MutableHashTable` (rows in chunks), filled by the first call and
read by the later ones. A table rather than a variable: Keras' `TFSMLayer` wraps every
variable a signature uses and refuses shape-less ones, and a fully shaped variable would be
saved with its contents; tables are neither. Reading costs one copy of the rows per call.
"""

import tensorflow as tf


class ComputedOnce(tf.Module):
  """Rows [num_rows, row_size] float32 computed by `compute()` on first `get`.

  Args:
    num_rows, row_size: the shape of what `compute` returns.
    chunk: rows per table entry (bounds the default value stored in the graph).
  """

  def __init__(self, num_rows: int, row_size: int, chunk: int = 100, name=None):
    super().__init__(name=name)
    self.num_rows, self.row_size, self.chunk = int(num_rows), int(row_size), int(chunk)
    self.num_chunks = -(-self.num_rows // self.chunk)
    self._table = tf.lookup.experimental.MutableHashTable(
        tf.int64, tf.float32, default_value=tf.zeros([self.chunk * self.row_size]))

  def _keys(self):
    return tf.range(self.num_chunks, dtype=tf.int64)

  def get(self, compute):
    """The rows, float32 [num_rows, row_size]; `compute` runs only if the table is empty."""

    def fill():
      rows = tf.ensure_shape(compute(), [self.num_rows, self.row_size])
      padded = tf.pad(rows, [[0, self.num_chunks * self.chunk - self.num_rows], [0, 0]])
      insert = self._table.insert(self._keys(),
                                  tf.reshape(padded, [self.num_chunks, -1]))
      with tf.control_dependencies([insert]):
        return tf.identity(rows)

    def read():
      values = tf.reshape(self._table.lookup(self._keys()), [-1, self.row_size])
      return values[:self.num_rows]

    return tf.cond(self._table.size() == 0, fill, read)

  def reset(self):
    """Empties the cache (before export, or after the weights it depends on change)."""
    self._table.remove(self._keys())

  def is_filled(self) -> bool:
    return bool(self._table.size() > 0)
