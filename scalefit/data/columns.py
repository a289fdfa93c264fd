"""Which column of a user's table is N, D, loss, ...: canonical names, aliases and explicit mappings.

Two id columns are kept apart because they mean different things for uncertainty:

- ``group``: what shares noise, i.e. the bootstrap's cluster. Found from an explicit ``columns={"group":
  ...}``, a column literally called group/cluster, or a *model label* column (``model``, ``model_name``, a
  text-valued ``model_size``). Without one, :mod:`scalefit.data.runs` derives it from the model size.
- ``curve``: the id of one training run whose checkpoints are rows (``run``, ``run_id``, ``run_name``,
  ``curve``...). It marks checkpoint data; it is never taken as the group by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..core.errors import DataError

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("C", "U", "group", "curve", "step", "weight")
CANONICAL = REQUIRED + OPTIONAL
NUMERIC = ("N", "D", "loss", "C", "U", "step", "weight")
LABELS = ("group", "curve")

#: Column names recognised without being told, after normalisation (lower case, only letters and digits).
ALIASES: dict[str, tuple[str, ...]] = {
    "N": ("n", "params", "parameters", "nparams", "numparams", "numparameters", "paramcount",
          "parametercount", "modelsize", "modelparams", "modelparameters", "size", "nonembeddingparams",
          "totalparams"),
    "D": ("d", "tokens", "ntokens", "numtokens", "traintokens", "trainingtokens", "tokennum", "tokensseen",
          "datasize", "datasetsize", "totaltokens", "numtoken"),
    "loss": ("loss", "valloss", "evalloss", "finalloss", "validationloss", "testloss", "trainloss",
             "trainingloss", "l"),
    "C": ("c", "flops", "compute", "trainingflop", "trainingflops", "trainflops", "computeflops", "flop",
          "c6nd"),
    "U": ("u", "uniquetokens", "tokensperepoch", "nunique", "uniquedata"),
    "group": ("group", "groupid", "cluster", "clusterid"),
    "curve": ("curve", "curveid", "run", "runid", "runname", "trajectory", "trajectoryid"),
    "step": ("step", "steps", "iteration", "iter", "checkpointstep", "globalstep"),
    "weight": ("weight", "weights", "w", "sampleweight"),
}

#: Columns that label the model (its size or architecture): taken as the group when none is given.
MODEL_LABELS: tuple[str, ...] = ("model", "modelname", "modelid", "modellabel", "modelsize", "size")


def normalise(name: object) -> str:
    """Lower case with everything but letters and digits removed: "Model Size" -> "modelsize"."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def speak(style: str, python: str, cli: str) -> str:
    """The Python or the command-line spelling of a hint, for ``hint_style`` "python" or "cli"."""
    return cli if style == "cli" else python


def columns_hint(style: str, pairs: Mapping[str, str]) -> str:
    """``columns={'N': 'x'}`` or ``--columns N=x`` for the given canonical -> source pairs."""
    if style == "cli":
        return "--columns " + ",".join(f"{k}={v}" for k, v in pairs.items())
    return "columns={" + ", ".join(f"{k!r}: {v!r}" if v != "..." else f"{k!r}: ..." for k, v in pairs.items()) + "}"


def resolve_columns(available: list[str], columns: Mapping[str, str] | None, source: str,
                    is_quantity: Callable[[str], bool] | None = None,
                    hint_style: str = "python") -> dict[str, str]:
    """Map canonical names to columns of the table.

    ``columns`` maps canonical names to the user's column names and always wins; everything not given is
    looked up among the aliases. A canonical name with two or more alias matches is an error that asks for
    an explicit ``columns=`` entry, rather than a guess.

    A model-label column (``model``, ``model_name``, or ``model_size``/``size`` when its cells are not
    quantities, as ``is_quantity(column)`` tells, or when another column is N) becomes ``group`` unless a
    group is given.

    Returns ``{canonical: source column}`` for every canonical name that was found.
    """
    columns = dict(columns or {})
    unknown = [key for key in columns if key not in CANONICAL]
    if unknown:
        raise DataError(f"{source}: {speak(hint_style, 'columns= keys', '--columns names')} {unknown} are not "
                        f"canonical names; use {list(CANONICAL)}")
    missing = [col for col in columns.values() if col not in available]
    if missing:
        raise DataError(f"{source}: {speak(hint_style, 'columns= names', '--columns entries')} {missing} are "
                        f"not in the table; it has {available}")
    mapping = dict(columns)
    taken = set(columns.values())
    is_quantity = is_quantity or (lambda col: True)
    for canonical in CANONICAL:
        if canonical in mapping:
            continue
        exact = [col for col in available if col == canonical and col not in taken]
        matches = exact or [col for col in available
                            if col not in taken and normalise(col) in ALIASES[canonical]]
        if canonical == "N" and len(matches) > 1:
            # "model_size" next to a real parameter count is a label, not a second N
            counts = [col for col in matches if normalise(col) not in MODEL_LABELS]
            matches = counts if len(counts) == 1 else matches
        if canonical == "N" and len(matches) == 1 and normalise(matches[0]) in MODEL_LABELS \
                and not is_quantity(matches[0]):
            matches = []  # "small", "OPT-1.3b": a label, not a count
        if len(matches) > 1:
            raise DataError(
                f"{source}: columns {matches} could each be {canonical!r}; say which with "
                f"{columns_hint(hint_style, {canonical: matches[0]})}"
            )
        if matches:
            mapping[canonical] = matches[0]
            taken.add(matches[0])
    if "group" not in mapping:
        labels = [col for col in available if col not in taken and normalise(col) in MODEL_LABELS]
        if len(labels) == 1:
            mapping["group"] = labels[0]
    return mapping


def model_label_column(mapping: Mapping[str, str], columns: Mapping[str, str] | None) -> str | None:
    """The source column that ``group`` came from when it is a model label (not given, not 'group')."""
    given = dict(columns or {})
    col = mapping.get("group")
    if col is None or "group" in given:
        return None
    return col if normalise(col) in MODEL_LABELS else None
