"""Reading replies and the contract gate: pure functions, table-driven."""

from __future__ import annotations

import pytest

from mlestar import blocks
from mlestar.engineers.base import EnsembleMember
from mlestar.engineers.llm import parsing, readers
from mlestar.engineers.llm.gate import contract_violations
from mlestar.engineers.llm.parsing import ParseError
from tests.llm_support import FEATURES_V2, SCRIPT, fenced

# -- code ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("Here it is:\n```py\nx = 1\n```\nDone.", "x = 1\n"),
        ("```\nx = 1\n```", "x = 1\n"),
        ("short:\n```python\na = 1\n```\nfull:\n```python\na = 1\nb = 2\n```", "a = 1\nb = 2\n"),
        ('```json\n{"a": 1}\n```\n```python\nz = 3\n```', "z = 3\n"),
        ("Sure! The script follows.\nimport os\nx = 1", "import os\nx = 1\n"),
        ("x = 1\ny = 2", "x = 1\ny = 2\n"),
        ("```python\nx = 1\n", "x = 1\n"),  # cut off before the closing fence
    ],
)
def test_extract_code(reply: str, expected: str) -> None:
    assert parsing.extract_code(reply) == expected


@pytest.mark.parametrize("reply", ["I cannot help with that.", '```json\n{"a": 1}\n```', ""])
def test_extract_code_refuses_replies_without_code(reply: str) -> None:
    with pytest.raises(ParseError):
        parsing.extract_code(reply)


def test_parse_script_accepts_a_block_script_and_explains_refusals() -> None:
    assert parsing.parse_script(fenced(SCRIPT)) == SCRIPT
    with pytest.raises(ParseError, match="no named blocks"):
        parsing.parse_script(fenced("import os\nx = 1"))
    with pytest.raises(ParseError, match="does not parse"):
        parsing.parse_script(fenced("# %% block: a\nfor x in\n"))
    with pytest.raises(ParseError, match="duplicate"):
        parsing.parse_script(fenced("# %% block: a\nx = 1\n# %% block: a\ny = 2\n"))


def test_apply_block_reply_takes_whole_scripts_and_changed_blocks() -> None:
    partial = "```python\n# %% block: features\n" + FEATURES_V2 + "```"
    revised = parsing.apply_block_reply(SCRIPT, partial)
    assert blocks.get_block(revised, "features").strip() == FEATURES_V2.strip()
    assert blocks.get_block(revised, "train") == blocks.get_block(SCRIPT, "train")
    whole = SCRIPT.replace("alpha=1.0", "alpha=3.0")
    assert parsing.apply_block_reply(SCRIPT, fenced(whole)) == whole
    with pytest.raises(ParseError, match="no block marker"):
        parsing.apply_block_reply(SCRIPT, fenced("x = 1"))


def test_apply_block_reply_places_new_blocks_after_the_one_listed_before_them() -> None:
    reply = fenced(
        "# %% block: train\n"
        + blocks.get_block(SCRIPT, "train").replace("alpha=1.0", "alpha=2.0")
        + "# %% block: second_model\nsecond = oof.copy()\n"
    )
    merged = parsing.apply_block_reply(SCRIPT, reply)
    assert blocks.block_names(merged) == ["load", "features", "train", "second_model", "save"]
    assert "alpha=2.0" in merged and blocks.get_block(merged, "second_model").strip() == "second = oof.copy()"
    first = parsing.apply_block_reply(SCRIPT, fenced("# %% block: setup\nimport math\n"))
    assert blocks.block_names(first)[:2] == ["setup", "load"]


def test_parse_block_body_checks_the_splice_and_drops_a_repeated_marker() -> None:
    body = parsing.parse_block_body(SCRIPT, "features", fenced("# %% block: features\n" + FEATURES_V2))
    assert body.strip() == FEATURES_V2.strip()
    with pytest.raises(ParseError, match="not block 'features'"):
        parsing.parse_block_body(SCRIPT, "features", fenced("x = 1\n# %% block: other\ny = 2"))
    with pytest.raises(ParseError, match="no block named"):
        parsing.parse_block_body(SCRIPT, "missing", fenced("x = 1"))


def test_an_implement_reply_with_the_whole_script_gives_up_the_block_asked_for() -> None:
    whole = blocks.replace_block(SCRIPT, "features", FEATURES_V2)
    body = parsing.parse_block_body(SCRIPT, "features", "Here is the full script:\n" + fenced(whole))
    assert body.strip() == FEATURES_V2.strip()
    assert parsing.parse_block_body(SCRIPT, "train", fenced(whole)) == blocks.get_block(SCRIPT, "train")


# -- JSON ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"block": "features", "plan": "p"}', {"block": "features", "plan": "p"}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure, here you go: {"a": [1, 2,],} hope it helps', {"a": [1, 2]}),
        ("{'a': True, 'b': None}", {"a": True, "b": None}),
        ("\u201ca\u201d", "a"),
        ('[{"name": "x"}]\nThat is all.', [{"name": "x"}]),
        ('{"plan": "Line one.\nLine two,\tindented."}', {"plan": "Line one.\nLine two,\tindented."}),
        (
            'I weighed [a] and [b] (see {notes}); my answer: {"block": "model", "plan": "p"}',
            {"block": "model", "plan": "p"},
        ),
        ('Blocks [load, train] look fine.\n```json\n{"leakage": false}\n```', {"leakage": False}),
        ('{"plan": "use x[0] and {a}"} then [more]', {"plan": "use x[0] and {a}"}),
    ],
)
def test_extract_json_with_repair(reply: str, expected: object) -> None:
    assert parsing.extract_json(reply) == expected


@pytest.mark.parametrize("reply", ["no json here", '{"a": ', "{block: features}"])
def test_extract_json_gives_a_reason(reply: str) -> None:
    with pytest.raises(ParseError, match="not valid JSON"):
        parsing.extract_json(reply)


def test_json_object_skips_a_bracketed_list_in_the_prose_before_it() -> None:
    reply = 'Candidates [1, 2] were weighed.\n{"block": "features",\n "plan": "Add\nsquares."}'
    assert parsing.json_object(reply, ("block", "plan")) == {"block": "features", "plan": "Add\nsquares."}
    assert parsing.json_object('[{"kind": "average"}]', ("kind",)) == {"kind": "average"}


# -- blocks chosen by the model ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("features", "features"),
        ("`Features`", "features"),
        ("# %% block: train", "train"),
        ("model = Ridge(alpha=1.0).fit(X[fit], y[fit])", "train"),
        ("model  =  Ridge(alpha=1.0).fit(X[fit],\n   y[fit])", "train"),  # whitespace-tolerant
    ],
)
def test_resolve_block(answer: str, expected: str) -> None:
    assert parsing.resolve_block(SCRIPT, answer) == expected


@pytest.mark.parametrize("answer", ["model = XGBRegressor()", "np.", ""])
def test_resolve_block_refuses_code_not_in_exactly_one_block(answer: str) -> None:
    with pytest.raises(ParseError, match="exactly one|no block"):
        parsing.resolve_block(SCRIPT, answer)


# -- ablation variants ----------------------------------------------------------------------------


def test_parse_variants_and_read_them_into_whole_scripts() -> None:
    reply = (
        "VARIANT: No features!\nBLOCK: features\nWHAT: raw columns only\n"
        + fenced(
            'cols = [c for c in test.columns if c != "id"][:1]\nX, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)'
        )
        + "\n\n**VARIANT:** weak model\n**BLOCK:** `train`\nWHAT: alpha 100\n"
        + fenced(blocks.get_block(SCRIPT, "train").replace("alpha=1.0", "alpha=100.0"))
    )
    variants = readers.read_variants(SCRIPT, reply)
    assert [v.name for v in variants] == ["no-features", "weak-model"]
    assert [v.block for v in variants] == ["features", "train"]
    assert "alpha=100.0" in variants[1].code and blocks.block_names(variants[1].code) == blocks.block_names(
        SCRIPT
    )


def test_read_variants_refuses_when_no_variant_is_usable() -> None:
    reply = "VARIANT: a\nBLOCK: nowhere\nWHAT: x\n" + fenced("x = 1")
    with pytest.raises(ParseError, match="no usable variant"):
        readers.read_variants(SCRIPT, reply)


# -- the contract gate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import sys\nsys.exit(0)", "sys.exit"),
        ("exit()", "exit"),
        ("import os\nos._exit(1)", "os._exit"),
        ("raise SystemExit(0)", "SystemExit"),
        ("import subprocess\nsubprocess.run(['pip', 'install', 'torch'])", "installs packages"),
        ("import os\nos.system('pip install xgboost')", "installs packages"),
        ("%pip install torch\nx = 1", "installs packages"),
        ("import pandas as pd\npd.read_csv('/work/shared/bench/answers.csv')", "outside ./input/"),
        ("import pandas as pd\npd.read_csv('../private/test_labels.csv')", "outside ./input/"),
        ("import pandas as pd\npd.read_csv('input/../../answers.csv')", "outside ./input/"),
        ("PATH = '~/data/x.csv'", "outside ./input/"),
        ("import requests\nrequests.get('https://example.com/data.csv')", "network"),
    ],
)
def test_gate_rejects_contract_breaches(code: str, reason: str) -> None:
    findings = contract_violations(code)
    assert findings and any(reason in f for f in findings), findings


@pytest.mark.parametrize(
    "code",
    [
        SCRIPT,
        '"""Never call exit() or pip install; never read /etc/passwd."""\nx = 1',
        "# os.system('pip install x') is forbidden\nx = 1",
        "import os\nos.makedirs('output', exist_ok=True)\nnull = open('/dev/null')",
        "parts = 'a/b/c'.split('/')",
    ],
)
def test_gate_lets_contract_keeping_scripts_through(code: str) -> None:
    assert contract_violations(code) == []


def test_read_script_feeds_back_every_breach() -> None:
    bad = SCRIPT.replace(
        'folds = np.load("input/folds.npy")', 'folds = np.load("/tmp/folds.npy")\nimport sys\nsys.exit(0)'
    )
    with pytest.raises(ParseError) as err:
        readers.read_script(fenced(bad))
    assert (
        "harness contract" in str(err.value)
        and "/tmp/folds.npy" in str(err.value)
        and "sys.exit" in str(err.value)
    )


# -- role readers ----------------------------------------------------------------------------------


def test_read_leakage_splices_the_fixed_block() -> None:
    reply = '{"leakage": "Yes", "findings": ["scaler fitted on all rows"], "block": "features"}\n' + fenced(
        FEATURES_V2
    )
    report = readers.read_leakage(SCRIPT, reply)
    assert report.leaks == ("scaler fitted on all rows",)
    assert report.fixed_code is not None and "X**2" in report.fixed_code
    assert readers.read_leakage(SCRIPT, '{"leakage": false, "findings": []}').leaks == ()


def test_read_data_usage_and_revision() -> None:
    assert readers.read_data_usage(SCRIPT, "ALL DATA USED") is None
    assert readers.read_data_usage(SCRIPT, fenced(SCRIPT)) is None  # unchanged: nothing to add
    with pytest.raises(ParseError, match="changes nothing"):
        readers.read_revision(SCRIPT, fenced(SCRIPT))


def test_read_block_choice_refuses_refined_blocks_while_others_remain() -> None:
    reply = '{"block": "train", "plan": "Use stronger regularisation."}'
    assert readers.read_block_choice(SCRIPT, [], reply).block == "train"
    with pytest.raises(ParseError, match="refined before"):
        readers.read_block_choice(SCRIPT, ["train"], reply)
    every = ["load", "features", "train", "save"]
    assert readers.read_block_choice(SCRIPT, every, reply).block == "train"


def test_read_ensemble_plan_keeps_known_members_only() -> None:
    members = [EnsembleMember("draft-0", "a", 1.0), EnsembleMember("merge-1", "b", 0.9)]
    plan = readers.read_ensemble_plan(
        members, '{"kind": "Greedy", "members": ["draft-0", "ghost"], "plan": "p"}'
    )
    assert plan.kind == "greedy" and plan.members == ("draft-0", "merge-1")
    with pytest.raises(ParseError, match="kind"):
        readers.read_ensemble_plan(members, '{"kind": "voting"}')


def test_read_cards_dedupes_and_caps() -> None:
    reply = '[{"name": "lgbm", "summary": "s"}, {"name": "lgbm", "summary": "t"}, {"name": "cat"}, {"x": 1}]'
    cards = readers.read_cards(reply, 2, "web")
    assert [c.name for c in cards] == ["lgbm", "lgbm-2"] and cards[0].source == "web"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("No Features!", "no-features"), ("###", "variant"), ("a" * 80, "a" * 40)],
)
def test_slug(text: str, expected: str) -> None:
    assert parsing.slug(text) == expected
