"""The MLflow UI over a study, in a real headless Chromium: what a person browsing it sees.

Runs a small study through the real CLI into a real SQLite store, starts `suite ui` on a free
loopback port and drives Debian's `chromium` through `chromium-driver` and selenium. Skipped,
with the reason, only where Chromium or its driver is not installed (`.ci/run` installs them).
Screenshots of every page are saved under the test's temporary folder.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from suite.cli import main


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MISSING = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
if not (CHROMIUM and DRIVER) and os.environ.get("SUITE_REQUIRE_BROWSER"):  # CI installs them: there, absence is a failure
    raise RuntimeError(f"the browser test {MISSING}")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=MISSING)]  # a server and a browser

ML = "?workflowType=machine_learning"  # MLflow 3 opens on its GenAI pages unless asked for the model-training ones

STUDY = """\
name: browse
title: Browsing a study
claim: Wider networks fit the training data better.
sources: [tests]
data: {dataset: mnist1d, train_size: 300}
model: {depth: 1, width: 8}
train: {learning_rate: 0.01, batch_size: 64, epochs: 3}
grid:
  model.width: [4, 32]
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.15}
expect:
  - says: The wider network ends with a higher training accuracy.
    metric: train_accuracy
    compare: {model.width: 32}
    against: {model.width: 4}
    direction: greater
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    home = tmp_path_factory.mktemp("browse")
    (home / "studies").mkdir()
    (home / "studies" / "browse.yaml").write_text(STUDY)
    mp = pytest.MonkeyPatch()
    mp.setenv("SUITE_HOME", str(home))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        assert main(["run", "browse"]) == 0
    finally:
        mp.undo()
    return home


@pytest.fixture(scope="module")
def ui(store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SUITE_HOME": str(store)}
    env.pop("MLFLOW_TRACKING_URI", None)
    server = subprocess.Popen([sys.executable, "-m", "suite", "ui", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`suite ui` did not start on {url}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def show(browser, url: str | None, *texts: str, shot=None, timeout: float = 60) -> str:
    """Open ``url`` (None: stay on the page) and wait until it shows every one of ``texts``; save a screenshot."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if url:
        browser.get(url)
    try:
        WebDriverWait(browser, timeout).until(lambda d: all(t in d.find_element(By.TAG_NAME, "body").text for t in texts))
    except TimeoutException:
        pass  # the assertion below names what is missing
    finally:
        if shot is not None:
            browser.save_screenshot(str(shot))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert all(t in body for t in texts), f"{url}: missing {[t for t in texts if t not in body]} in {body[:2000]!r}"
    return body


def test_the_store_holds_the_study_only(store):
    client = MlflowClient(f"sqlite:///{store / '.suite' / 'mlflow.db'}")
    assert [e.name for e in client.search_experiments()] == ["browse"]  # no empty Default pointing at mlruns/0


def test_the_experiment_page_states_the_claim_and_lists_readable_runs(store, ui, browser, tmp_path):
    from selenium.webdriver.common.by import By

    client = MlflowClient(f"sqlite:///{store / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("browse")
    page = f"{ui}/#/experiments/{exp.experiment_id}/runs{ML}"
    show(browser, page, "Claim: Wider networks fit the training data better.", "browse [base]", shot=tmp_path / "experiment.png")
    # The trials sit under the study's run: expand it, as a person would, and read them by their cells' names.
    expand = browser.find_elements(By.XPATH, "//*[text()='browse [base]']/ancestor::*[@role='row'][1]//button")
    assert expand, "no expander on the study's run"
    expand[0].click()
    body = show(browser, None, "width=4 seed=0", "width=32 seed=1", shot=tmp_path / "trials.png", timeout=20)
    assert "mnist1d (" in body  # the Dataset column: the data each trial trained on, with its fingerprint


def test_a_trial_shows_its_curves_params_and_data(store, ui, browser, tmp_path):
    client = MlflowClient(f"sqlite:///{store / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("browse")
    run = client.search_runs([exp.experiment_id], "attributes.run_name = 'width=32 seed=1'")[0]
    assert run.data.params["model.width"] == "32" and run.data.params["model.init"] == "glorot_uniform"
    assert not any(k.startswith("data.synthetic") for k in run.data.params)
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["mnist1d"]
    base = f"{ui}/#/experiments/{exp.experiment_id}/runs/{run.info.run_id}"
    show(browser, base + ML, "width=32 seed=1", "mnist1d", "glorot_uniform", shot=tmp_path / "trial.png")
    show(browser, f"{base}/model-metrics{ML}", "val_accuracy", shot=tmp_path / "trial-charts.png")


def test_the_parent_run_charts_a_summary_and_holds_the_report(store, ui, browser, tmp_path):
    client = MlflowClient(f"sqlite:///{store / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("browse")
    parent = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'study'")[0]
    assert parent.data.metrics["verdicts_supported"] + parent.data.metrics["verdicts_refuted"] + \
        parent.data.metrics["verdicts_inconclusive"] == 1
    assert "test_accuracy/width 32" in parent.data.metrics
    base = f"{ui}/#/experiments/{exp.experiment_id}/runs/{parent.info.run_id}"
    # The UI groups the summary by its prefix: a section per metric, a chart per cell
    show(browser, f"{base}/model-metrics{ML}", "test_accuracy\n(2)", "width 32", shot=tmp_path / "parent-charts.png")
    show(browser, f"{base}/artifacts{ML}", "report.md", "curves.png", "trials.json", shot=tmp_path / "parent-artifacts.png")
    # The experiment's description links the figures through the UI's own artifact route: they open.
    note = exp.tags["mlflow.note.content"]
    link = f"get-artifact?path=curves.png&run_uuid={parent.info.run_id}"
    assert f"]({link})" in note
    with urllib.request.urlopen(f"{ui}/{link}", timeout=10) as reply:
        assert reply.read(8) == b"\x89PNG\r\n\x1a\n"
