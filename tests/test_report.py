"""`mlestar report`: what the page reads from a run, and the page itself in headless Chromium."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mlestar.cli import build_parser, main
from mlestar.journal import SEED_OF, Journal, Stage
from mlestar.journal.events import ReportWritten
from mlestar.report import read_facts, render, report_run
from mlestar.report.charts import ticks
from mlestar.report.facts import solution_nodes
from mlestar.report.page import HOW_TO
from mlestar.report.tree import layout
from tests.run_factory import fabricate_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def test_facts_follow_the_journal(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    facts = read_facts(run.run_dir)
    journal = Journal(run.run_dir)
    assert [n.id for n in facts.nodes] == [
        n.id for n in sorted(journal.nodes.values(), key=lambda n: (n.started, n.id))
    ]
    outcome = {n.id: n.outcome for n in facts.nodes}
    final = next(e for e in journal.events if e["name"] == "final")["node"]
    assert outcome[final] == "best"
    for node in journal.nodes.values():
        if node.status in ("failed", "timeout"):
            assert outcome[node.id] == node.status
    assert facts.state.startswith("finished")
    assert facts.final_node == final


def test_a_refinement_shows_the_diff_of_its_block_only(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    facts = read_facts(run.run_dir)
    journal = Journal(run.run_dir)
    with_parent = [n for n in facts.nodes if n.parent and journal.nodes[n.parent].code_path and n.diff]
    assert with_parent, "the fabricated run has a child script of a script"
    for n in with_parent:
        assert n.diff.startswith(f"--- {n.parent}\n+++ {n.id}")


def test_ablation_impacts_are_signed_by_direction(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    journal = Journal(run.run_dir)
    base = next(n for n in journal.nodes.values() if n.ok and n.stage in ("draft", "merge"))
    lower = bool(run.spec.lower_is_better)
    assert base.score is not None
    worse = base.score + (0.1 if lower else -0.1)
    journal.add(
        replace(
            base,
            id="t0-ablate-model",
            parent=base.id,
            stage=Stage.ABLATION,
            role="ablate",
            plan="without the model block",
            score=worse,
            meta={"block": "model"},
        )
    )
    impacts = read_facts(run.run_dir).impacts
    assert [(i.round, i.block) for i in impacts] == [(0, "model")]
    assert impacts[0].impact == pytest.approx(0.1)  # taking the model out hurts: it helps


def test_the_score_charts_never_step_onto_a_seed_variant_alone(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    journal = Journal(run.run_dir)
    base = next(n for n in journal.nodes.values() if n.ok and n.stage in ("draft", "merge"))
    assert base.score is not None
    luckier = base.score + (-0.5 if run.spec.lower_is_better else 0.5)
    variant = replace(
        base, id=f"wide-seed1-{base.id}", parent=base.id, stage=Stage.WIDEN, role="seed", score=luckier,
        meta={SEED_OF: base.id, "seed": 1},
    )  # fmt: skip
    journal.add(variant)
    facts = read_facts(run.run_dir)
    assert variant.id in {n.id for n in facts.nodes}  # in the tree, like every attempt
    charted = {n.id for n in solution_nodes(facts)}
    assert base.id in charted and variant.id not in charted


def test_tree_layout_puts_parents_between_their_children(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    facts = read_facts(run.run_dir)
    place = layout(facts.nodes)
    assert set(place) == {n.id for n in facts.nodes}
    for n in facts.nodes:
        kids = [k for k in facts.nodes if k.parent == n.id]
        if kids:
            rows = [place[k.id][1] for k in kids]
            assert min(rows) <= place[n.id][1] <= max(rows)
            assert all(place[k.id][0] == place[n.id][0] + 1 for k in kids)


def test_ticks_are_round_and_cover_the_range() -> None:
    assert ticks(0.0, 10.0) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    found = ticks(0.9891, 0.9934)
    assert found[0] >= 0.9891 and found[-1] <= 0.9934 and len(found) >= 3


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    page = render(read_facts(run.run_dir))
    assert "<script src" not in page and '<link rel="stylesheet"' not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_every_suggested_command_is_a_real_mlestar_command() -> None:
    parser = build_parser()
    suggested = [line.split()[1] for _title, commands in HOW_TO for line in commands.splitlines()]
    assert {"export", "serve", "predict"} <= set(suggested)  # how to reproduce, and how to serve
    for _title, commands in HOW_TO:
        for line in commands.format(run="runs/x").splitlines():
            words = shlex.split(line.split("#", 1)[0])
            if words and words[0] == "mlestar":
                parser.parse_args(words[1:])  # exits on an unknown command or flag


def test_report_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "expected a run folder" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real run the serving tests share (built once per session), tracked to its own store."""
    from tests.serving_support import real_run as shared_run

    return shared_run(tmp_path_factory)


def test_a_run_writes_its_report_at_the_end(real_run: Path) -> None:
    page = (real_run / "report.html").read_text()
    journal = Journal(real_run)
    assert journal.has(ReportWritten, path="report.html")
    for node_id in journal.nodes:
        assert f'data-node="{node_id}"' in page
    assert report_run(real_run).stat().st_size < 2_000_000


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_the_report_renders_in_headless_chromium(real_run: Path, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1300,2400",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get((real_run / "report.html").as_uri())
        for chart in ("score-time", "score-attempts", "tree", "stage-time"):
            element = driver.find_element(By.ID, chart)
            assert element.size["width"] > 100 and element.size["height"] > 50, chart
        assert driver.find_elements(By.CSS_SELECTOR, "#score-time circle.point")
        node = driver.find_elements(By.CSS_SELECTOR, "#tree g.node")[0]
        node_id = node.get_attribute("data-node")
        node.click()
        assert driver.find_element(By.ID, "detail-title").text == node_id
        plan = Journal(real_run).nodes[str(node_id)].plan
        assert plan[:40] in driver.find_element(By.ID, "detail-plan").text
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        driver.save_screenshot(str(real_run / "report.png"))
        assert (real_run / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_the_report_is_logged_to_mlflow_with_the_run(real_run: Path) -> None:
    from mlestar.tracking.backend import connect

    client = connect(f"sqlite:///{real_run / 'mlflow.db'}")
    parent = next(
        r
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
        if r.data.tags.get("mlestar.kind") == "run"
    )
    assert "report.html" in {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_the_screening_table_is_shown(tmp_path: Path) -> None:
    run = fabricate_run(tmp_path / "run")
    rows = [
        {
            "name": "linear",
            "family": "linear",
            "score": 0.91,
            "seconds": 1.5,
            "status": "ok",
            "prior": 1,
            "chosen": True,
        },
        {
            "name": "knn",
            "family": "neighbours",
            "score": None,
            "seconds": 9.0,
            "status": "timeout",
            "prior": 0,
            "chosen": False,
        },
    ]
    Journal(run.run_dir).event("screening", split="all rows, 2 folds", results=rows, drafts=["linear"])
    page = render(read_facts(run.run_dir))
    table = page[page.index('id="screening-table"') :]
    assert table.index("linear") < table.index("knn") and "0.91000" in table and "timeout" in table
