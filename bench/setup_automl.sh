#!/usr/bin/env bash
# Create the AutoML baselines' own virtual environments (never the product's):
#   bench/.envs/autogluon   AutoGluon 1.6.3 (tabular, LightGBM/CatBoost/XGBoost, no torch, no ray)
#   bench/.envs/flaml       FLAML 2.8.0 with its AutoML extras
# Both get Pillow, to read image tasks' files into per-file statistics (baselines/file_features.py).
# Each needs its own venv: AutoGluon caps pandas, pyarrow and ray below what mlestar uses, and
# FLAML pins an older xgboost. Idempotent: an environment that already holds the pinned version is
# left alone. Also writes ~/ray_bootstrap_config.yaml (provider: local) when absent, so that a Ray
# cluster, should one ever start, never probes cloud-metadata addresses.
#
# Usage: bash bench/setup_automl.sh [autogluon|flaml ...]     (default: both)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
envs="$here/.envs"
AUTOGLUON_VERSION="1.6.3"
FLAML_VERSION="2.8.0"

export RAY_USAGE_STATS_ENABLED=0 DO_NOT_TRACK=true

find_uv() {
    if [ -x "$here/../.venv/bin/uv" ]; then echo "$here/../.venv/bin/uv"; return; fi
    command -v uv || true
}

find_python() {
    # A local interpreter: uv must never download one.
    command -v python3.11 || command -v python3.12 || command -v python3
}

write_ray_bootstrap() {
    local cfg="$HOME/ray_bootstrap_config.yaml"
    if [ ! -e "$cfg" ]; then
        printf 'provider: {type: local}\n' > "$cfg"
        echo "wrote $cfg (stops Ray's cloud-metadata probes)"
    fi
}

# installed VENV DIST VERSION -> success when VENV holds the distribution DIST at VERSION
installed() {
    [ -x "$1/bin/python" ] || return 1
    "$1/bin/python" - "$2" "$3" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if version(sys.argv[1]) == sys.argv[2] else 1)
PY
}

# make_env NAME DIST MODULE VERSION REQUIREMENT...
make_env() {
    local name="$1" dist="$2" module="$3" version="$4"; shift 4
    local venv="$envs/$name" uv py start
    if installed "$venv" "$dist" "$version" && "$venv/bin/python" -c "import PIL" 2>/dev/null; then
        echo "$name: $dist $version already installed in $venv"
        return
    fi
    start=$(date +%s)
    uv="$(find_uv)"; py="$(find_python)"
    mkdir -p "$envs"
    if [ -n "$uv" ]; then
        "$uv" venv --quiet --allow-existing --python "$py" "$venv"
        "$uv" pip install --quiet --python "$venv/bin/python" "$@"
    else
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet "$@"
    fi
    installed "$venv" "$dist" "$version" || { echo "$name: expected $dist $version after install" >&2; exit 1; }
    "$venv/bin/python" -c "import $module" || { echo "$name: $module does not import" >&2; exit 1; }
    echo "$name: installed $dist $version in $(( $(date +%s) - start )) s"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(autogluon flaml)
    write_ray_bootstrap
    for t in "${targets[@]}"; do
        case "$t" in
            autogluon) make_env autogluon autogluon.tabular autogluon.tabular "$AUTOGLUON_VERSION" \
                "autogluon.tabular[lightgbm,catboost,xgboost]==$AUTOGLUON_VERSION" pillow ;;
            flaml) make_env flaml flaml flaml.automl "$FLAML_VERSION" "flaml[automl]==$FLAML_VERSION" pillow ;;
            *) echo "expected autogluon or flaml, found $t" >&2; exit 2 ;;
        esac
    done
}

main "$@"
