"""Runs a command, passing its stderr through except TensorFlow's start-up banner lines.

  python scripts/without_tf_banners.py python -m abs_tf.evaluate     # what `make demo` runs

TensorFlow's C++ code writes these lines when it is imported, before absl logging is
initialised, and no setting tried hides them without hiding more (TF 2.21, 2 CPU cores, no
GPU, 2026-12-02): TF_CPP_MIN_LOG_LEVEL=2 (already set) and 3, TF_CPP_MAX_VLOG_LEVEL=-1,
GRPC_VERBOSITY=ERROR, ABSL_MIN_LOG_LEVEL=2, ABSL_STDERRTHRESHOLD=2, GLOG_minloglevel=2 and
CUDA_VISIBLE_DEVICES=-1 all leave the oneDNN and CUDA notices; TF_CPP_MIN_LOG_LEVEL=3 drops
the `cuInit` error, but with it every other TensorFlow error. oneDNN stays on (switching it
off changes the numerics). So exactly the lines in BANNERS are dropped; every other line,
errors included, passes through unchanged, and the exit status is the command's.
"""

import re
import subprocess
import sys

_TF_LOG = r"^[IE]\d{4} [\d:.]+ +\d+ "  # absl's C++ prefix: severity, date, time, thread
BANNERS = tuple(re.compile(pattern) for pattern in (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR$",
    _TF_LOG + r"port\.cc:\d+\] oneDNN custom operations are on\. ",
    _TF_LOG + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will "
    r"not be used\.$",
    _TF_LOG + r"cuda_platform\.cc:\d+\] failed call to cuInit: ",
))


def is_banner(line: str) -> bool:
  return any(pattern.search(line) for pattern in BANNERS)


def main(argv) -> int:
  if len(argv) < 2:
    print(f"usage: {argv[0]} COMMAND [ARGS...]", file=sys.stderr)
    return 2
  process = subprocess.Popen(argv[1:], stderr=subprocess.PIPE)
  try:
    for line in process.stderr:
      if not is_banner(line.decode(errors="replace").rstrip("\r\n")):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
  except KeyboardInterrupt:  # the command got the same Ctrl-C; report how it ended
    pass
  return process.wait()


if __name__ == "__main__":
  sys.exit(main(sys.argv))
