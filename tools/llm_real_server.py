"""llama-cpp-python's OpenAI-compatible server, with what this kind of machine needs:

- No extra weight buffers (repacking): llama.cpp built for this CPU uses its AMX matrix kernels,
  and the virtual machine does not grant AMX tile state, so the first matrix product crashes.
- OpenMP threads that sleep instead of spin while they wait: on two shared cores, spinning
  threads slowed a 19-token prompt from 0.5 s to 14 s.

    python tools/llm_real_server.py --model FILE.gguf --host 127.0.0.1 --port 8765 ...
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when the library loads

import llama_cpp.llama_cpp as low  # noqa: E402

_defaults = low.llama_model_default_params


def _without_extra_buffers():  # type: ignore[no-untyped-def]
    params = _defaults()
    params.use_extra_bufts = False
    return params


low.llama_model_default_params = _without_extra_buffers

from llama_cpp.server.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
