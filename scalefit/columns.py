"""Which column of a user's table is N, D, loss, ...: canonical names, aliases and explicit mappings."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import DataError

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("C", "U", "group", "step", "weight")
CANONICAL = REQUIRED + OPTIONAL
NUMERIC = ("N", "D", "loss", "C", "U", "step", "weight")

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
    "group": ("group", "family", "run", "runid", "runname", "groupid"),
    "step": ("step", "steps", "iteration", "iter", "checkpointstep", "globalstep"),
    "weight": ("weight", "weights", "w", "sampleweight"),
}


def normalise(name: object) -> str:
    """Lower case with everything but letters and digits removed: "Model Size" -> "modelsize"."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def resolve_columns(available: list[str], columns: Mapping[str, str] | None, source: str) -> dict[str, str]:
    """Map canonical names to columns of the table.

    ``columns`` maps canonical names to the user's column names and always wins; everything not given is
    looked up among the aliases. A canonical name with two or more alias matches is an error that asks for
    an explicit ``columns=`` entry, rather than a guess.

    Returns ``{canonical: source column}`` for every canonical name that was found.
    """
    columns = dict(columns or {})
    unknown = [key for key in columns if key not in CANONICAL]
    if unknown:
        raise DataError(f"{source}: columns= keys {unknown} are not canonical names; use {list(CANONICAL)}")
    missing = [col for col in columns.values() if col not in available]
    if missing:
        raise DataError(f"{source}: columns= names {missing} are not in the table; it has {available}")
    mapping = dict(columns)
    taken = set(columns.values())
    for canonical in CANONICAL:
        if canonical in mapping:
            continue
        exact = [col for col in available if col == canonical and col not in taken]
        matches = exact or [col for col in available
                            if col not in taken and normalise(col) in ALIASES[canonical]]
        if len(matches) > 1:
            raise DataError(
                f"{source}: columns {matches} could each be {canonical!r}; say which with "
                f"columns={{{canonical!r}: {matches[0]!r}}}"
            )
        if matches:
            mapping[canonical] = matches[0]
            taken.add(matches[0])
    return mapping
