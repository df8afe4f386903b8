"""Robustness evaluation: the paper's Table 1, Figures 2 and 3, resumable.

Modules, in the order data flows through them:
  profiles.py     budgets of every attack per profile (smoke, standard, paper).
  models.py       picklable model descriptions and a per-process model cache.
  plan.py         which attacks apply to which model; work units (model, attack, chunk, budget).
  runner.py       runs one work unit in a process, returning result rows.
  executor.py     where units run: in this process, or a worker process per model.
  ray_executor.py or on a Ray cluster, one model-holding actor per worker process.
  results.py      results.jsonl, the append-only state, and the stored adversarials.
  table.py        Table 1 from the rows, beside the paper's numbers (paper_table.py).
  figures.py      Figures 2 and 3.
  sanity.py       warnings about gradient masking, failing attacks, irreproducible rows.
  driver.py       ties them together (`abs_tf.evaluate` is its command line).

References:
  Schott et al., ICLR 2019, sections 4-6, Table 1, Figures 2 and 3.
"""
