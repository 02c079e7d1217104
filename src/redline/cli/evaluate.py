"""``redline eval FOLDER``: how well matching survives re-share edits on your own images.

Operators can run it on any folder of distinct, non-sensitive photos to see, before trusting the robust rule,
what plain PDQ and robust PDQ catch (recall per edit) and how often they match different photos.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from redline.eval import harness
from redline.eval.transforms import TRANSFORMS, transform_named
from redline.signals.robust import ROBUST_THRESHOLD


def evaluate(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of distinct images.")],
    limit: Annotated[int | None, typer.Option(help="Use at most this many images (sorted by path).")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    robust_threshold: Annotated[int, typer.Option(help="Threshold of the robust rule.")] = ROBUST_THRESHOLD,
    transform: Annotated[
        list[str] | None,
        typer.Option("--transform", "-t", help="Only these transforms (repeatable); default: all."),
    ] = None,
    hard_negatives: Annotated[
        bool, typer.Option(help="Also score halves of each image as hard negatives.")
    ] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here.")] = None,
) -> None:
    """Recall per edit and false-positive rates: plain PDQ vs robust PDQ, on the same hashes."""
    photos = harness.load_photos(folder, limit)
    if len(photos) < 2:
        raise typer.BadParameter("need at least two images", param_hint="FOLDER")
    try:
        chosen = [transform_named(n) for n in transform] if transform else list(TRANSFORMS)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--transform") from None
    corpus = harness.hash_corpus(photos, chosen, jobs=jobs)
    hard = None
    if hard_negatives:
        hard_transforms = [transform_named(n) for n in harness.HARD_NEGATIVE_TRANSFORMS]
        hard = harness.hash_corpus(harness.half_photos(photos), hard_transforms, jobs=jobs)
    rep = harness.report(corpus, hard, robust_threshold)
    typer.echo(harness.markdown(rep))
    if json_out is not None:
        json_out.write_text(json.dumps(dataclasses.asdict(rep), indent=1, default=str))


def register(app: typer.Typer) -> None:
    """Add ``redline eval`` to ``app``."""
    app.command("eval")(evaluate)
