#!/usr/bin/env bash
# Started by MLE-bench's runner inside the agent container (`bash $AGENT_DIR/start.sh [ARGS]`), or by
# dry_run.py on a plain machine. It maps the benchmark's fixed places to one `mlestar run`:
#   data          $DATA_DIR (default /home/data: description.md and the public files, read-only)
#   time limit    $TIME_LIMIT_SECS (the run's whole budget; mlestar keeps a margin for the copy-out)
#   step limit    $STEP_LIMIT (optional): scripts run at most, passed as --max-nodes
#   engineer      $MLESTAR_LLM (default builtin), e.g. openai:gpt-4o, gemini:gemini-2.5-pro,
#                 anthropic:claude-sonnet-4-5; keys come from the provider's usual variables
#   device        $MLESTAR_DEVICE_CHOICE (default auto: the GPU when the container has one), cpu or cuda
#   submission    $SUBMISSION_DIR/submission.csv
#   logs          $LOGS_DIR: journal, status, report, MLflow store, run log
#   code          $CODE_DIR: solution.py and every attempt's script
# Extra arguments are passed to `mlestar run` unchanged (the runner's argparse kwargs).
set -uo pipefail

DATA_DIR=${DATA_DIR:-/home/data}
SUBMISSION_DIR=${SUBMISSION_DIR:-/home/submission}
LOGS_DIR=${LOGS_DIR:-/home/logs}
CODE_DIR=${CODE_DIR:-/home/code}
AGENT_DIR=${AGENT_DIR:-/home/agent}
TIME_LIMIT_SECS=${TIME_LIMIT_SECS:-86400}
MLESTAR_LLM=${MLESTAR_LLM:-builtin}
DEVICE_CHOICE=${MLESTAR_DEVICE_CHOICE:-auto}
MLESTAR=${MLESTAR:-mlestar}
RUN_DIR=${MLESTAR_RUN_DIR:-$AGENT_DIR/run}

if [ -z "${MLESTAR_NO_CONDA:-}" ] && command -v conda >/dev/null 2>&1; then
  eval "$(conda shell.bash hook)"
  conda activate agent
fi

# Hardware, for the log. mlestar detects it itself (nvidia-smi -L, CUDA_VISIBLE_DEVICES) and tells
# the scripts ($MLESTAR_DEVICE) and the LLM engineer's prompts what there is.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name --format=csv,noheader >/dev/null 2>&1; then
  echo "mlestar agent: GPUs: $(nvidia-smi --query-gpu=name --format=csv,noheader | paste -sd ', ' -)"
else
  echo "mlestar agent: no GPU, $(nproc) CPU cores"
fi

# mlestar's budget: the time limit less a margin for start-up and the copy-out (5 %, 60 s to 15 min).
margin=$(( TIME_LIMIT_SECS / 20 ))
[ "$margin" -lt 60 ] && margin=60
[ "$margin" -gt 900 ] && margin=900
budget=$(( TIME_LIMIT_SECS - margin ))
[ "$budget" -lt 30 ] && budget=30

args=(run "$DATA_DIR" --out "$RUN_DIR" --budget "${budget}s" --llm "$MLESTAR_LLM" --device "$DEVICE_CHOICE" --no-live)
[ -n "${STEP_LIMIT:-}" ] && args+=(--max-nodes "$STEP_LIMIT")

mkdir -p "$SUBMISSION_DIR" "$LOGS_DIR" "$CODE_DIR"
if [ -f "$RUN_DIR/journal.jsonl" ]; then  # the container was restarted: continue the same run
  args=(resume "$RUN_DIR" --no-live)
fi
echo "mlestar agent: $MLESTAR ${args[*]} $*"
# A hard stop just inside the time limit, in case the run overshoots its own budget.
timeout --signal=TERM --kill-after=30 $(( TIME_LIMIT_SECS - 30 )) \
  "$MLESTAR" "${args[@]}" "$@" 2>&1 | tee "$LOGS_DIR/mlestar.log"
status=${PIPESTATUS[0]}

# Copy out whatever the run left, even when it stopped early: mlestar writes the submission first.
copy() { [ -e "$1" ] && cp -r "$1" "$2"; }
copy "$RUN_DIR/submission.csv" "$SUBMISSION_DIR/submission.csv"
copy "$RUN_DIR/journal.jsonl" "$LOGS_DIR/"
copy "$RUN_DIR/report.html" "$LOGS_DIR/"
copy "$RUN_DIR/mlflow.db" "$LOGS_DIR/"
copy "$RUN_DIR/mlartifacts" "$LOGS_DIR/"
copy "$RUN_DIR/task.json" "$LOGS_DIR/"
"$MLESTAR" status "$RUN_DIR" > "$LOGS_DIR/status.txt" 2>&1 || true
copy "$RUN_DIR/solution.py" "$CODE_DIR/"
copy "$RUN_DIR/solution_parts" "$CODE_DIR/"
if [ -d "$RUN_DIR/attempts" ]; then
  for script in "$RUN_DIR"/attempts/*/solution.py; do
    [ -f "$script" ] || continue
    mkdir -p "$CODE_DIR/attempts"
    cp "$script" "$CODE_DIR/attempts/$(basename "$(dirname "$script")").py"
  done
fi

if [ ! -f "$SUBMISSION_DIR/submission.csv" ]; then
  echo "mlestar agent: no submission was written (mlestar exited with $status)" >&2
  exit 1
fi
echo "mlestar agent: submission at $SUBMISSION_DIR/submission.csv (mlestar exited with $status)"
exit 0
