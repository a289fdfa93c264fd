"""Dataset registry: bundled example sweeps and public sweeps fetched by URL with a checksum.

A public file is looked for, in order, in a local mirror (the ``mirror`` argument, else the environment
variable ``SCALEFIT_DATA_MIRROR``; laid out as ``<mirror>/<dataset>/<file>``), then in the cache directory
(``cache_dir``, else ``SCALEFIT_CACHE_DIR``, else ``~/.cache/scalefit``), and only then downloaded. Every
file is checked against its sha256 wherever it comes from; a download goes to a temporary file that is
renamed into the cache only once its checksum matches, so the cache never holds half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DatasetError
from .readers import read_table
from .runs import RunTable, load_runs
from .units import parse_quantity

MIRROR_ENV = "SCALEFIT_DATA_MIRROR"
CACHE_ENV = "SCALEFIT_CACHE_DIR"


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    ``url`` serves exactly these bytes (checked by ``sha256``); it is None for a file that the upstream
    project does not publish as such (numbers extracted from a notebook or a pickle), which can only come
    from a mirror. ``upstream`` says where the numbers live either way.
    """

    name: str
    sha256: str
    rows: int
    url: str | None
    upstream: str


#: What a registered table is; decides which analysis fits it (the recipe says how).
KINDS = ("single-epoch", "multi-epoch", "IsoFLOP", "curves")


@dataclass(frozen=True)
class Recipe:
    """The recommended way to analyse a dataset, split by where each part goes.

    ``load``: keyword arguments of :func:`scalefit.load_runs` (filters, ``query``, ``checkpoints``...);
    ``fit``: keyword arguments for the fitting side (e.g. ``{"law": "data_constrained"}`` or
    ``{"approach": 2}``), data only: the fitting code decides how to honour them; ``why``: one sentence.
    """

    load: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"load": dict(self.load), "fit": dict(self.fit), "why": self.why}


@dataclass(frozen=True)
class Dataset:
    """A registered sweep: files, citation, licence, what kind of sweep it is (``kind``, one or more of
    :data:`KINDS`), how its columns map to canonical ones and the recommended ``recipe``."""

    name: str
    title: str
    citation: str
    licence: str
    files: tuple[DataFile, ...]
    columns: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    bundled: bool = False
    note: str = ""
    kind: tuple[str, ...] = ("single-epoch",)
    recipe: Recipe = field(default_factory=Recipe)
    folder: str = ""

    @property
    def recommended(self) -> dict[str, Any]:
        """The recipe's load keyword arguments (kept for callers of the first version)."""
        return dict(self.recipe.load)

    @property
    def mirror_folder(self) -> str:
        """Folder of this dataset inside a mirror (and the cache): ``folder`` if set, else the name."""
        return self.folder or self.name

    @property
    def table(self) -> DataFile:
        """The file that holds the run table (the first one)."""
        return self.files[0]

    def file(self, name: str | None) -> DataFile:
        if name is None:
            return self.table
        for item in self.files:
            if item.name == name:
                return item
        raise DatasetError(f"dataset {self.name!r} has no file {name!r}; it has {[f.name for f in self.files]}")


def _colpret_datablations(frame: pd.DataFrame) -> pd.DataFrame:
    # The file's `flops` column decreases as tokens grow (broken upstream): keep it visible, never as C.
    return frame.rename(columns={"flops": "flops_broken_upstream"})


def _colpret_opt(frame: pd.DataFrame) -> pd.DataFrame:
    sizes = frame["model_size"].map(parse_quantity)
    return pd.DataFrame({
        "N": sizes, "D": 10.0 ** frame["num_token"], "C": 10.0 ** frame["flops"],
        "loss": np.log(frame["ppl"]), "step": frame["steps"], "group": "OPT-" + frame["model_size"],
        "ppl": frame["ppl"],
    })


PORIAN_FINAL_SETTING = ("dataset == 'rw' and hparams == 'tuned' and warmup == 'short' and decay == 'const' "
                        "and param_count == 'standard' and loss_type == 'val'")
_EPOCH = "https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/"
_COLPRET = "https://raw.githubusercontent.com/IBM/ColPret/"

REGISTRY: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        name="example_chinchilla",
        title="Synthetic Chinchilla-like sweep with known true parameters (bundled)",
        citation="Generated by datasets/make_examples.py in this repository.",
        licence="MIT (part of scalefit)",
        files=(DataFile("example_chinchilla.csv", "", 153, None, "datasets/make_examples.py"),),
        bundled=True,
        note="True parameters and noise model: scalefit.datasets.example_truth().",
        kind=("single-epoch",),
    ),
    Dataset(
        name="chinchilla_epoch",
        title="Chinchilla runs (Hoffmann et al. 2022, Fig. 4) reconstructed by Epoch AI",
        citation=("Hoffmann et al. 2022, arXiv:2203.15556; Besiroglu, Erdil, Barnett, You 2024, "
                  "'Chinchilla Scaling: A replication attempt', arXiv:2404.10102"),
        licence="none stated upstream (default copyright): fetched for analysis, never redistributed",
        files=(
            DataFile("svg_extracted_data.csv", "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30",
                     245, _EPOCH + "92258837425e1b5f2851d624287f0120583a3d0e/data/svg_extracted_data.csv",
                     "github.com/epoch-research/analyzing-chinchilla data/svg_extracted_data.csv"),
            DataFile("chinchilla_epoch.csv", "f189e4ca618b5803d4bf633c83bbf507eae90e49b21da77f2f72f07bedb5b37d",
                     245, None, "tidy copy of svg_extracted_data.csv made for the mirror (D = C / 6N)"),
        ),
        columns={"N": "Model Size", "C": "Training FLOP", "loss": "loss"},
        note="D = C / (6N) as in Epoch's analysis; Epoch's default fit drops the 5 highest-loss runs.",
        kind=("single-epoch",),
        recipe=Recipe(load={"drop_highest_loss": 5}, fit={"objective": "hoffmann"},
                      why="Epoch AI's replication drops the 5 highest-loss runs and fits Huber, delta=1e-3"),
    ),
    Dataset(
        name="colpret_datablations",
        title="Datablations loss curves (2.8B/4.2B/8.7B, repeated data) from the ColPret release",
        citation=("Choshen, Zhang, Andreas 2025, 'A Hitchhiker's Guide to Scaling Law Estimation', "
                  "arXiv:2410.11840; Muennighoff et al. 2023, arXiv:2305.16264"),
        licence="MIT (ColPret); underlying runs Apache-2.0 (datablations)",
        files=(DataFile("datablations_losses.csv", "b3c448c2cd1a17128e06ee3120a9c377c4e2bf649e09b2446db59f98ef957b48",
                        9261, _COLPRET + "16f23bbe054277ddc4afd07a972dd7cfbe3f48c3/aggregated_eval/"
                        "datablations_losses.csv", "github.com/IBM/ColPret aggregated_eval/datablations_losses.csv"),),
        columns={"N": "num_params", "D": "token_num", "loss": "loss", "U": "tokens_per_epoch",
                 "curve": "model_args"},
        prepare=_colpret_datablations,
        folder="colpret_choshen2024",
        note=("Checkpoints of 48 runs (3 model sizes, so the cluster is the model size); the upstream `flops` "
              "column is broken and is not used (C = 6ND)."),
        kind=("curves", "multi-epoch"),
        recipe=Recipe(load={"checkpoints": "final", "query": "data == 'c4'"}, fit={"law": "data_constrained"},
                      why="the final checkpoint of each C4 run (the table mixes C4 and OSCAR runs; the paper's "
                          "fit is on C4); most repeat data (D > U), so the data-constrained law"),
    ),
    Dataset(
        name="colpret_opt",
        title="OPT training trajectories (125M-175B, Xia et al. 2023) from the ColPret release",
        citation=("Choshen, Zhang, Andreas 2025, arXiv:2410.11840; Xia et al. 2023, 'Training Trajectories of "
                  "Language Models Across Scales', ACL 2023"),
        licence="MIT (ColPret)",
        files=(DataFile("opt_trajectories.csv", "c3a53ccc7a412f0caff4179ce484acf1c2aab36b25677473658f094362449ff5",
                        142, _COLPRET + "16f23bbe054277ddc4afd07a972dd7cfbe3f48c3/aggregated_eval/"
                        "opt_trajectories.csv", "github.com/IBM/ColPret aggregated_eval/opt_trajectories.csv"),),
        prepare=_colpret_opt,
        folder="colpret_choshen2024",
        note="num_token and flops are log10 upstream; loss = ln(perplexity); N is the nominal size.",
        kind=("curves",),
        recipe=Recipe(load={"min_fraction_of_run": 0.1}, fit={},
                      why="every OPT run ends near 300B tokens, so final checkpoints alone cannot separate N "
                          "from D; checkpoints past 10% of each run are used, with the caution that "
                          "intermediate checkpoints of a decaying schedule sit above the loss of a finished run"),
    ),
    Dataset(
        name="datablations_c4",
        title="Datablations C4 runs (Muennighoff et al. 2023), final validation losses",
        citation="Muennighoff et al. 2023, 'Scaling Data-Constrained Language Models', NeurIPS, arXiv:2305.16264",
        licence="Apache-2.0",
        files=(
            DataFile("datablations_c4_runs.csv", "de17b5ead57c2aa605ddc054bdb9a60379ed5b583685dfdd11a9bc8799172e3e",
                     296, None,
                     "github.com/huggingface/datablations utils/parametric_fit.ipynb (numbers in cells 1-2)"),
            DataFile("datablations_c4_excluded.csv",
                     "8ebd97708d8d11734d1eafb0d85ffef3af7d917e19f2e0a9c467a414c9c2f049", 21, None,
                     "github.com/huggingface/datablations utils/parametric_fit.ipynb (skipped entries)"),
        ),
        columns={"N": "N", "D": "D", "U": "U", "loss": "loss", "C": "C_6ND"},
        note="Use query='used_in_default_fit' for the paper's 182-run fit, or 'epochs == 1' for plain L(N, D).",
        kind=("multi-epoch",),
        recipe=Recipe(load={"query": "used_in_default_fit"}, fit={"law": "data_constrained"},
                      why="the 182 runs of the paper's parametric fit (Muennighoff et al. 2023), many repeating "
                          "data, so the data-constrained law"),
    ),
    Dataset(
        name="porian2024_isoflop",
        title="IsoFLOP points of Porian et al. 2024 (several configurations)",
        citation=("Porian, Wortsman, Jitsev, Schmidt, Carmon 2024, 'Resolving Discrepancies in Compute-Optimal "
                  "Scaling of Language Models', NeurIPS, arXiv:2406.19146"),
        licence="MIT",
        files=(DataFile("porian2024_isoflop_points.csv",
                        "19dd94dbabd3239943316890e3e68bd5e66bad3663d870743f9545a6b25b7dd1", 1745, None,
                        "github.com/formll/resolving-scaling-law-discrepancies data/summary_df*.pickle.xz"),),
        columns={"N": "N", "D": "D", "loss": "loss", "C": "flops"},
        note=("Mixes configurations and N conventions: select one, e.g. query=\"dataset == 'rw' and "
              "hparams == 'tuned' and decay == 'const' and param_count == 'standard' and loss_type == 'val'\"."),
        kind=("IsoFLOP",),
        recipe=Recipe(
            load={"query": PORIAN_FINAL_SETTING},
            fit={"approach": 2, "window": 5},
            why=("the paper's final corrected setting on RefinedWeb (last-layer FLOPs counted: "
                 "param_count 'standard'; short warmup; AdamW hyperparameters incl. beta2 tuned per size; "
                 "constant learning rate, which the paper finds enough once tuned; validation loss), the only "
                 "tuned RefinedWeb configuration with standard N and validation loss in the file, taken as the "
                 "one their final a in [0.491, 0.505] refers to (from the abstract and SOURCE.md, not "
                 "checked against the figure). 121 IsoFLOP points; Chinchilla Approach 2 with each parabola "
                 "fitted to the 5 points around the budget's lowest loss (window=5): the grids span up to 2 "
                 "decades of N with the minimum off centre, where a parabola through all points is biased "
                 "(a = 0.514 instead of 0.501)")),
    ),
)}


def names() -> list[str]:
    """Registered dataset names, bundled first."""
    return sorted(REGISTRY, key=lambda n: (not REGISTRY[n].bundled, n))


def info(name: str) -> Dataset:
    """The registry entry of ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def default_cache_dir() -> Path:
    """``$SCALEFIT_CACHE_DIR``, else ``~/.cache/scalefit``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "scalefit")


def fetch(name: str, file: str | None = None, *, mirror: str | os.PathLike | None = None,
          cache_dir: str | os.PathLike | None = None) -> Path:
    """Local path of a dataset file: bundled, from the mirror, from the cache, or downloaded into the cache."""
    dataset = info(name)
    entry = dataset.file(file)
    if dataset.bundled:
        return Path(str(resources.files("scalefit") / "data" / entry.name))
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is not None:
        candidate = Path(mirror) / dataset.mirror_folder / entry.name
        if candidate.is_file():
            _verify(candidate, entry, f"mirror copy {candidate}")
            return candidate
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / dataset.mirror_folder / entry.name
    if target.is_file():
        if _sha256(target) == entry.sha256:
            return target
        target.unlink()  # a corrupt or outdated cache entry is replaced, never trusted
    if entry.url is None:
        where = f" (looked in {Path(mirror) / dataset.mirror_folder})" if mirror is not None else ""
        raise DatasetError(
            f"{name}/{entry.name} is extracted from {entry.upstream}, which scalefit cannot download as "
            f"such; point {MIRROR_ENV} (or mirror=) at a folder holding "
            f"{dataset.mirror_folder}/{entry.name}{where}"
        )
    _download(entry, target)
    return target


def load(name: str, file: str | None = None, *, mirror: str | os.PathLike | None = None,
         cache_dir: str | os.PathLike | None = None, **load_kwargs: Any) -> RunTable:
    """Fetch a registered dataset and load it with :func:`scalefit.load_runs` and its column mapping.

    Extra keyword arguments (filters, ``on_invalid``, ...) go to :func:`load_runs`; the dataset's
    recommended load recipe is *not* applied unless passed (``**info(name).recipe.load``; the command line
    applies it by default).

    The table is in canonical units: N in parameters, D in tokens, C in FLOPs, loss in nats/token.

    Examples
    --------
    >>> runs = scalefit.datasets.load("example_chinchilla")
    >>> len(runs), sorted(c for c in ("N", "D", "C", "loss") if c in runs.df)
    (153, ['C', 'D', 'N', 'loss'])
    >>> print(f"{runs.loss.min():.2f} to {runs.loss.max():.2f} nats/token")
    2.20 to 3.69 nats/token
    """
    dataset = info(name)
    path = fetch(name, file, mirror=mirror, cache_dir=cache_dir)
    columns = load_kwargs.pop("columns", None) or (dataset.columns if file in (None, dataset.table.name)
                                                   else None)
    if dataset.prepare is not None and file in (None, dataset.table.name):
        frame = dataset.prepare(read_table(path).frame)
        return load_runs(frame, columns=columns or None, source_name=str(path), **load_kwargs)
    return load_runs(path, columns=columns or None, **load_kwargs)


def example_truth() -> dict[str, Any]:
    """True parameters and noise model of the bundled example sweep."""
    import json

    return json.loads((resources.files("scalefit") / "data" / "example_chinchilla_truth.json").read_text())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, entry: DataFile, what: str) -> None:
    actual = _sha256(path)
    if actual != entry.sha256:
        raise DatasetError(f"{what}: sha256 {actual} does not match the registry's {entry.sha256}")


def _download(entry: DataFile, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{entry.name}.", delete=False)
    digest = hashlib.sha256()
    try:
        with handle:
            try:
                with urllib.request.urlopen(entry.url, timeout=60) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        digest.update(block)
                        handle.write(block)
            except (urllib.error.URLError, OSError) as exc:
                raise DatasetError(
                    f"could not download {entry.url} ({getattr(exc, 'reason', exc)}); without network, point "
                    f"{MIRROR_ENV} (or mirror=) at a local copy"
                ) from None
        if digest.hexdigest() != entry.sha256:
            raise DatasetError(f"{entry.url}: downloaded sha256 {digest.hexdigest()} does not match the "
                               f"registry's {entry.sha256}; nothing was cached")
        os.replace(handle.name, target)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
