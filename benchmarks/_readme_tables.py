"""The README's results tables, built from the committed results files.

The README shows a short table per paper's experiment between two markers,

    <!-- readme table: hnn_tasks -->
    ...
    <!-- end readme table -->

and this script rewrites what stands between them from `benchmarks/results/<name>.json`, so no
number in them is typed by hand. `tests/test_docs.py` checks that the README matches the
committed results. Run it after committing a full run:

    python benchmarks/_readme_tables.py
"""

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from _common import atomic_write_text, RESULTS_DIR


README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(
    r"(<!-- readme table: (?P<name>\w+) -->\n)(?P<body>.*?)(<!-- end readme table -->)",
    re.DOTALL,
)


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = float(value)
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
        return f"{value:.2e}"
    return f"{value:.3g}"


def load(name: str, results: Path) -> dict[str, Any]:
    path = results / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"_readme_tables: cannot read {path}: {error}") from error


def _status(data: Mapping[str, Any]) -> str:
    created = str(data.get("created", "?"))[:10]
    partial = " **Partial run**: not every case has finished." if data.get("partial") else ""
    source = f"`benchmarks/results/{data['benchmark']}.json`"
    return f"From {source} ({data['mode']} run, {created}).{partial}"


# The HNN paper's tasks: the test-trajectory energy MSE of each model, ours beside the paper's.
_HNN_COLUMNS = (
    ("baseline", "paper", "baseline"),
    ("hnn", "paper", "HNN"),
    ("hnn", "ours", "HNN, ours"),
    ("baseline_acceleration", "ours", "2nd-order ODE, ours"),
    ("lnn", "ours", "LNN, ours"),
    ("delan", "ours", "DeLaN, ours"),
)
# Columns shown once the results plan their model (the config's `task_models`) or hold a row
# of it: the pairwise models run on the many-body tasks only, and results written before them
# know nothing of them.
_HNN_OPTIONAL_COLUMNS = (
    ("pairwise_hnn", "ours", "pairwise HNN, ours"),
    ("pairwise_lnn", "ours", "pairwise LNN, ours"),
)


def _hnn_columns(data: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    known = {row["model"] for row in data["rows"]}
    for plan in data["config"].get("task_models", {}).values():
        known.update(model for models in plan.values() for model in models)
    return _HNN_COLUMNS + tuple(c for c in _HNN_OPTIONAL_COLUMNS if c[0] in known)


def _hnn_cell(data: Mapping[str, Any], task: str, model: str, recipe: str, metric: str) -> str:
    """A model's number on a task: `–` where a full run does not train it on that task (as the
    results' `task_models` say), `not run` where it does and no row has come yet."""
    row = next(
        (r for r in data["rows"] if (r["task"], r["model"], r["recipe"]) == (task, model, recipe)),
        None,
    )
    planned = data["config"].get("task_models", {}).get(task, {}).get(recipe)
    if row is None and planned is not None and model not in planned:
        return "–"
    return _with_failures(row, metric)


def _block(intro: str, data: Mapping[str, Any], header: list[str], rows: list[list[str]]) -> str:
    """An introduction, the run's status line, and a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return intro + " " + _status(data) + "\n\n" + "\n".join(lines) + "\n"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{_number(value)} %"


def _with_failures(row: Mapping[str, Any] | None, metric: str = "energy_mse") -> str:
    if row is None:
        return "not run"
    # A mean that holds a rollout beyond the energy scale (scored before the failure rule).
    text = "diverged" if row.get("energy_mse_diverged") else _number(row.get(metric))
    failures = _failures(row, metric)
    return f"{text} ({failures} failed)" if failures else text


def _failures(row: Mapping[str, Any], metric: str) -> int:
    """The failed rollouts behind `metric`: its own count where the results hold one, else
    every failure of the row."""
    own = row.get(f"{metric}_failures")
    if own is not None:
        return own
    return row.get("failures") or row.get("failed_rollouts") or 0


def hnn_tasks(data: Mapping[str, Any]) -> str:
    by_key = {(r["task"], r["model"], r["recipe"]): r for r in data["rows"]}
    columns = _hnn_columns(data)
    header = ["task", "published baseline", "published HNN"] + [c[2] for c in columns]
    rows = [
        [
            task,
            _number(by_key.get((task, "baseline", "paper"), {}).get("published_energy_mse")),
            _number(by_key.get((task, "hnn", "paper"), {}).get("published_energy_mse")),
            *(_hnn_cell(data, task, m, recipe, "energy_mse") for m, recipe, _ in columns),
        ]
        for task in dict.fromkeys(r["task"] for r in data["rows"])
    ]
    intro = (
        "Energy MSE along the test trajectories (the HNN README's protocol), mean over "
        f"{data['config'].get('seeds', '?')} seeds; lower is better. `paper`: the HNN paper's "
        "recipe; `ours`: the settings in `benchmarks/hnn_tasks.py`. A failed rollout (non-"
        "finite, or an energy error beyond the task's energy scale) is counted, never averaged "
        "in; `diverged`: a mean scored before that rule, which holds such a rollout."
    )
    text = _block(intro, data, header, rows)
    protocols = data["config"].get("published_today_protocol")
    if protocols:
        text += "\n" + _hnn_tasks_today(data, protocols)
    return text


def _hnn_tasks_today(data: Mapping[str, Any], protocols: Mapping[str, str]) -> str:
    """The energy MSE of each analysis notebook's protocol, beside the README's today."""
    by_key = {(r["task"], r["model"], r["recipe"]): r for r in data["rows"]}
    columns = _hnn_columns(data)
    header = ["task", "protocol", "published baseline", "published HNN"]
    header += [c[2] for c in columns]
    rows = [
        [
            task,
            metric,
            _number(by_key.get((task, "baseline", "paper"), {}).get("published_energy_mse_today")),
            _number(by_key.get((task, "hnn", "paper"), {}).get("published_energy_mse_today")),
            *(_hnn_cell(data, task, m, r, metric) for m, r, _ in columns),
        ]
        for task in dict.fromkeys(r["task"] for r in data["rows"])
        if (metric := protocols.get(task))
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    intro = (
        "The energy MSE of the HNN repository's analysis notebooks, which its README prints "
        "today: `energy_mse_long` (the spring notebook's 15 starts over t in [0, 20]) and "
        "`energy_mse_notebook` (15 starts of the task's sampler, 500 points over t in [0, 25] "
        "for two bodies, [0, 3] for three, Dopri5 at rtol 1e-9); failed rollouts of that "
        "protocol in brackets."
    )
    return intro + "\n\n" + "\n".join(lines) + "\n"


# The LNN table's recipes: the budget curve's other single-seed runs are in the docs' figure.
README_RECIPES = ("ours", "paper", "paper_long", "paper_scaled")


def _median(row: Mapping[str, Any]) -> str:
    """The median energy discrepancy; none is stored when a seed's median was a failed rollout
    (half of its rollouts or more failed)."""
    if row.get("energy_discrepancy_median_percent") is None and row.get("failed_rollouts"):
        return "a failure"
    return _percent(row.get("energy_discrepancy_median_percent"))


def lnn_double_pendulum(data: Mapping[str, Any]) -> str:
    header = ["model", "recipe", "steps", "seeds", "held-out L1"]
    header += ["energy discrepancy (mean)", "median", "failed rollouts", "published"]
    rows = [
        [
            row["model"],
            f"{row['recipe']} ({row['width']} x {row['depth']})",
            str(row["steps"]),
            str(row["seeds"]),
            _number(row.get("test_loss")),
            _percent(row.get("energy_discrepancy_percent")),
            _median(row),
            f"{row['failed_rollouts']} of {row['rollouts']}",
            _percent(row.get("published_energy_discrepancy_percent")),
        ]
        for row in data["rows"]
        if row["recipe"] in README_RECIPES
    ]
    intro = (
        "The LNN paper's double pendulum, trained on its distribution (angles U[0, 2pi), "
        "velocities U[-10, 10)); energy discrepancy |E_true - E_pred| / 29.4 at t = 100 over "
        "40 initial states nearly at rest. `paper_long`: the paper's recipe for 120000 steps, "
        "which take longer than the 150000 of `ours` (`lnn_double_pendulum_timing.md` has the "
        "times per step); `paper_scaled`: the same with its inputs scaled by the data "
        "(`adapt`)."
    )
    intro += (
        " A failed rollout (non-finite, or an energy error above 100 % of 29.4 at any time) is "
        "counted, not averaged into the mean; the median takes it as the worst value (`a "
        "failure`: half of a seed's rollouts or more failed). Runs scored before that rule "
        "were evaluated again (`--rescore`): the paper's recipe retrained on an AMD EPYC "
        "(the other runs on an Intel Xeon)."
    )
    return _block(intro, data, header, rows)


def pixel_pendulum(data: Mapping[str, Any]) -> str:
    header = ["model", "recipe", "seeds", "test loss", "published", "energy MSE", "published"]
    header += ["failed rollouts"]
    rows = [
        [
            row["model"],
            row["recipe"],
            str(row["seeds"]),
            _number(row.get("test_loss")),
            _number(row.get("published_test_loss")),
            _number(row.get("energy_mse")),
            _number(row.get("published_energy_mse")),
            f"{row['failed_rollouts']} of {row['rollouts']}",
        ]
        for row in data["rows"]
    ]
    intro = (
        "The HNN paper's pixel pendulum: 28 x 28 frames from our own renderer (not the paper's "
        "Gym frames), an autoencoder whose 2-D latent is the model's state; test loss and the "
        "energy MSE of the latent rollouts read through a probe (the docs' \"Dynamics from "
        'pixels" page says how).'
    )
    return _block(intro, data, header, rows)


# The goals table: each goal is (results file, the row's keys, the metric, its target or the
# column holding the published number, what the target is). Lower is better for every metric.
_GOALS = (
    *(
        ("hnn_tasks", {"task": task, "model": "hnn", "recipe": recipe}, metric, published, label)
        for task in ("spring", "pendulum", "real_pendulum", "two_body")
        for recipe in ("paper", "ours")
        for metric, published, label in (
            ("energy_mse", "published_energy_mse", "published (HNN README)"),
            ("energy_mse_long", "published_energy_mse_long", "published (spring notebook)"),
        )
    ),
    # Issue 23's goals for the many-body tasks (`goal_*` in the results: the targets, absent
    # from results written before them, which then list no such goal).
    *(
        ("hnn_tasks", {"task": task, "model": model, "recipe": recipe}, metric, f"goal_{metric}",
         label)
        for task, model, metric, label in (
            ("two_body", "hnn", "test_loss", "published (HNN README)"),
            ("two_body", "hnn", "energy_mse", "10x below published (old HNN README)"),
            ("two_body", "hnn", "energy_mse_notebook", "10x below published (HNN README today)"),
            ("three_body", "hnn", "test_loss", "published (HNN README today)"),
            ("three_body", "hnn", "energy_mse_notebook",
             "100x below published (HNN README today)"),
            *((task, "lnn", metric, "2x the HNN's")
              for task in ("two_body", "three_body")
              for metric in ("test_loss", "energy_mse", "energy_mse_notebook")),
        )
        for recipe in ("paper", "ours")
    ),
    # The pairwise models train with `ours` only (`hnn_tasks.EXTRA_MODELS`).
    *(
        ("hnn_tasks", {"task": "three_body", "model": model, "recipe": "ours"},
         "energy_mse_notebook", "goal_energy_mse_notebook", "10x below the HNN's")
        for model in ("pairwise_hnn", "pairwise_lnn")
    ),
    *(
        ("pixel_pendulum", {"model": "hnn", "recipe": recipe}, m, f"published_{m}", "published")
        for recipe in ("paper", "rk4")
        for m in ("test_loss", "energy_mse")
    ),
    *(
        (
            "lnn_double_pendulum",
            {"model": "lnn", "recipe": recipe},
            "energy_discrepancy_percent",
            "published_energy_discrepancy_percent",
            "published",
        )
        for recipe in ("paper", "paper_scaled", "ours")
    ),
    ("lnn_double_pendulum", {"model": "lnn", "recipe": "ours"}, "energy_discrepancy_percent", 0.05,
     "the project's goal"),
    # Issue 23's goals for the structured many-body models (`benchmarks/n_body.py`).
    ("n_body", {"experiment": "one_orbit", "model": "pairwise_lnn", "orbits": "perturbed"},
     "energy_error_max_all", 1e-4, "largest energy error, one orbit to 20 perturbed"),
    ("n_body", {"experiment": "one_orbit", "model": "pairwise_lnn", "orbits": "perturbed"},
     "plain_lnn_valid_fraction", 0.2, "plain LNN's valid time over the pairwise LNN's"),
    *(
        ("n_body", {"experiment": "zero_shot", "model": model, "trained_on": 3, "bodies": 8},
         metric, target, label)
        for model in ("pairwise_hnn", "pairwise_lnn", "pairwise_hnn_prior", "pairwise_lnn_prior")
        for metric, target, label in (
            ("energy_error_max_all", 1e-3, "largest energy error, 3 bodies to 8"),
            ("native_valid_ratio", 2.0, "valid time of one trained on 8 over zero-shot's"),
        )
    ),
    # Issue 27's goals for DeLaN on its character data (`benchmarks/delan_character.py`): every
    # test MSE at or below the DeLaN README's, and 10x its 1517 samples per second.
    *(
        ("delan_character", {"model": "delan_structured"}, metric, target,
         "published (DeLaN README)")
        for metric, target in (("torque", 4.327e-04), ("inertial", 7.338e-04),
                               ("coriolis", 2.227e-04), ("gravity", 7.338e-04),
                               ("power", 4.456e-05))
    ),
    ("delan_character", {"model": "delan_structured"}, "seconds_per_sample", 6.59e-05,
     "10x below the published 6.59e-4 s (1517 per second)"),
    # Issue 27's control goal (`benchmarks/swing_up.py`): the learned model swings the true
    # cart-pole up as often as the true model does (true success rate minus learned <= 0).
    ("swing_up", {"controller model": "learned DeLaN"}, "success_rate_gap", 0.0,
     "as often as the true model"),
    # Issue 25's goals for the constrained models (`benchmarks/constrained.py`).
    *(
        ("constrained", {"experiment": "chains", "links": links, "model": model}, metric,
         target, label)
        for links in (2, 3, 5)
        for model in ("clnn", "chnn")
        for metric, target, label in (
            ("geometric_mean", "published", "published (Finzi et al. 2020)"),
            ("times_floor", 2.0, "within 2x of the chaos floor"),
        )
    ),
    ("constrained", {"experiment": "zero_shot", "trained_on": 3, "links": 10}, "native_ratio",
     3.0, "zero-shot 10 links over trained on 10"),
)  # fmt: skip


def goals(results: Path, only: str | None = None) -> str:
    """Every goal the README's tables speak of, met or missed, read from the results files;
    with `only`, those of one benchmark."""
    header = ["experiment", "case", "metric", "ours", "target", "status"]
    rows, files = [], {}
    for name, keys, metric, target, label in _GOALS:
        if only is not None and name != only:
            continue
        if name not in files:
            # A benchmark with no committed run yet: its goals are "not run".
            exists = (results / f"{name}.json").exists()
            files[name] = load(name, results) if exists else {"rows": []}
        data = files[name]
        row = next((r for r in data["rows"] if all(r.get(k) == v for k, v in keys.items())), None)
        if row is None:
            status, value, bound = "not run", None, target if isinstance(target, float) else None
        else:
            bound = target if isinstance(target, float) else row.get(target)
            if bound is None:
                continue  # no published number for this metric
            value = row.get(metric)
            failed = _failures(row, metric)
            # A goal is met by a number at or below it with no failed rollout behind it: a
            # mean over the survivors says nothing of the rollouts that failed.
            met = isinstance(value, (int, float)) and math.isfinite(value) and value <= bound
            status = "met" if met and not failed else "missed"
            if row.get(f"{metric}_diverged") or row.get("energy_mse_diverged"):
                status, value = "missed (diverged)", None
            if failed:
                status += f" ({failed} failed)"
        rows.append(
            [
                f"`{name}`",
                ", ".join(str(value) for value in keys.values()),
                metric,
                _number(value),
                f"{_number(bound)}, {label}",
                f"**{status}**" if status.startswith("missed") else status,
            ]
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    met = sum(row[-1].startswith("met") for row in rows)
    intro = (
        f"Each published number and project goal the tables above are measured against: {met} of "
        f"{len(rows)} met, from the committed results files. Lower is better everywhere. The "
        'papers give no spread, so a number at or below the target is "met", and none is '
        "claimed as a reproduction; a missed goal stays in this list until a run meets it."
    )
    return intro + "\n\n" + "\n".join(lines) + "\n"


def n_body(data: Mapping[str, Any]) -> str:
    rows = data["rows"]
    orbit = [r for r in rows if r["experiment"] == "one_orbit" and r["orbits"] == "perturbed"]
    header = ["model", "seeds", "largest energy error", "mean", "valid periods", "failed"]
    cells = [
        [
            r["model"],
            str(r["seeds"]),
            _number(r["energy_error_max_all"]),
            _number(r["energy_error"]),
            _number(r["valid_periods"]),
            f"{r['failed_rollouts']} of {r['rollouts']}",
        ]
        for r in orbit
    ]
    intro = (
        "Trained on ONE elliptical two-body orbit, rolled out from 20 perturbed orbits for 10 "
        "periods: the largest and the mean relative error of the true energy along a rollout, "
        'and the valid prediction time in periods (the post "Lagrangian Neural Networks and '
        'the Two Body Problem" found a plain LNN\'s orbits "wonky").'
    )
    return _block(intro, data, header, cells)


def n_body_zero_shot(data: Mapping[str, Any]) -> str:
    header = ["model", "trained on", "run on", "largest energy error", "valid time", "failed"]
    cells = [
        [
            r["model"],
            f"{r['trained_on']} bodies",
            f"{r['bodies']} bodies",
            _number(r["energy_error_max_all"]),
            _number(r["valid_time"]),
            f"{r['failed_rollouts']} of {r['rollouts']}",
        ]
        for r in data["rows"]
        if r["experiment"] == "zero_shot"
    ]
    intro = (
        "One pair potential on other numbers of bodies: pairwise models trained on the "
        "three-body ring and run on 2 to 8 bodies of the same sampler, beside ones trained on "
        "those; 15 starts per count over t in [0, 3], the largest relative energy error and the "
        "mean valid prediction time."
    )
    return _block(intro, data, header, cells)


def n_body_learned(data: Mapping[str, Any]) -> str:
    header = ["model", "trained on", "seeds", "force error, within", "below", "beyond", "mass"]
    cells = [
        [
            r["model"],
            r["trained_on"],
            str(r["seeds"]),
            _number(r["force_error_within"]),
            _number(r["force_error_near"]),
            _number(r["force_error_far"]),
            f"{_number(r['mass'])} ± {_number(r['mass_std'])}",
        ]
        for r in data["rows"]
        if r["experiment"] == "learned"
    ]
    intro = (
        "The largest relative error of the learned force per unit mass, -V'(r)/m, against "
        "-1/r^2 (unit masses, G = 1), within the training distances, below them (to half the "
        "smallest) and beyond them (to twice the largest), worst seed; the learned mass "
        "(1 in truth; velocity data fix only V/m, so a Lagrangian's mass is a unit, not a "
        "measurement)."
    )
    return _block(intro, data, header, cells)


def delan_character(data: Mapping[str, Any]) -> str:
    header = ["model", "seeds", "torque", "H q_tt", "c", "g", "power", "samples / s"]
    components = ("torque", "inertial", "coriolis", "gravity", "power")
    cells = []
    for r in data["rows"]:
        model = r["model"]
        if r.get("seeds") is not None:
            model = f"{model} (ours)"
            mean = _number(r["torque"]) + (
                f" ± {_number(r['torque_std'])}" if r.get("torque_std") is not None else ""
            )
        else:
            mean = _number(r["torque"])
        cells.append(
            [
                model,
                "–" if r.get("seeds") is None else str(r["seeds"]),
                mean,
                *(_number(r.get(part)) for part in components[1:]),
                f"{r['samples_per_second']:,.0f}" if r.get("samples_per_second") else "–",
            ]
        )
    intro = (
        "Deep Lagrangian Networks' character data: torques of a two-link arm learned on 17 "
        "letters, scored on 'e', 'q', 'v'. Test MSE of the torques and of their parts "
        "(inertial H q_tt, Coriolis and centrifugal c, gravitational g, each summed over the "
        "joints), of the power q_t . tau, means over seeds; samples per second of the batched "
        "inverse dynamics. The published row is the DeLaN repository's README."
    )
    return _block(intro, data, header, cells)


def constrained(data: Mapping[str, Any]) -> str:
    header = [
        "links",
        "model",
        "seeds",
        "ours",
        "published",
        "chaos floor (ours)",
        "chaos floor (published)",
        "ours / floor",
        "failed",
    ]
    cells = [
        [
            str(r["links"]),
            r["model"],
            str(r["seeds"]),
            _number(r["geometric_mean"]),
            _number(r.get("published")),
            _number(r["chaos_floor"]),
            _number(r.get("published_floor")),
            _number(r.get("times_floor")),
            str(r["failed_rollouts"]),
        ]
        for r in data["rows"]
        if r["experiment"] == "chains"
    ]
    steps = data["config"].get("steps")
    intro = (
        "Chain pendulums: the relative error |z_hat - z| / |z_hat + z| of the bobs' Cartesian "
        "states along rollouts 10x the training chunk, its geometric mean along the rollout "
        "and over 100 held-out trajectories, then over seeds; the chaos floor is the same "
        "error of the truth from initial states perturbed by 1e-4. Every model trained for "
        f"{steps} steps (the published runs: 8000)."
    )
    return _block(intro, data, header, cells)


def constrained_zero_shot(data: Mapping[str, Any]) -> str:
    header = ["trained on", "run on", "seeds", "geometric mean", "over trained on it"]
    cells = [
        [
            f"{r['trained_on']} links",
            f"{r['links']} links",
            str(r["seeds"]),
            _number(r["geometric_mean"]),
            _number(r.get("native_ratio")),
        ]
        for r in data["rows"]
        if r["experiment"] == "zero_shot"
    ]
    intro = (
        "One potential term per body and one per joint, shared along the chain, trained on "
        "unit chains of one length and run on others; the same metric as above."
    )
    return _block(intro, data, header, cells)


def constrained_cost(data: Mapping[str, Any]) -> str:
    header = ["model", "links", "seconds per training step", "seconds per rollout step"]
    cells = [
        [
            r["model"],
            str(r["links"]),
            _number(r["seconds_per_training_step"]),
            _number(r["seconds_per_rollout_step"]),
        ]
        for r in data.get("cost", [])
    ]
    intro = (
        "Seconds per training step (value and gradient of the rollout loss over a batch of "
        "chunks) and per RK4 rollout step of the same batch, against the number of links."
    )
    return _block(intro, data, header, cells)


# The results file of a table named other than its benchmark.
SOURCES = {
    "n_body_zero_shot": "n_body",
    "n_body_learned": "n_body",
    "constrained_zero_shot": "constrained",
    "constrained_cost": "constrained",
}
TABLES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "hnn_tasks": hnn_tasks,
    "n_body": n_body,
    "n_body_zero_shot": n_body_zero_shot,
    "n_body_learned": n_body_learned,
    "lnn_double_pendulum": lnn_double_pendulum,
    "pixel_pendulum": pixel_pendulum,
    "delan_character": delan_character,
    "constrained": constrained,
    "constrained_zero_shot": constrained_zero_shot,
    "constrained_cost": constrained_cost,
}


def render(text: str, results: Path = RESULTS_DIR) -> str:
    """`text` (the README) with every marked table rebuilt from `results`."""

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name == "goals":
            return match.group(1) + goals(results) + match.group(4)
        if name not in TABLES:
            known = sorted([*TABLES, "goals"])
            raise SystemExit(f"_readme_tables: unknown table {name!r}; known: {known}")
        data = load(SOURCES.get(name, name), results)
        return match.group(1) + TABLES[name](data) + match.group(4)

    return _BLOCK.sub(replace, text)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    updated = render(text)
    if updated != text:
        atomic_write_text(README, updated)
        print(f"updated {README}")
    else:
        print(f"{README} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
