"""``sasnets-suggest``: rank sasmodels models for 1D data files from the command line.

Products of a form factor and a structure factor are ``form@structure`` in ``--json``
(sasmodels' name) and ``form × structure`` in the table. Each ranked file also gets its
out-of-distribution assessment (``"ood"`` in ``--json``: score, threshold, warning; null
for a network without one), a warning line in the table when the curve is unusual.

Exit status: 0 when every file was ranked, 2 when any file could not be ranked (its
error is reported in place of its ranking), the command line was wrong or the results
could not be written (a full disk, a closed standard output), 130 when interrupted
(Ctrl-C: what was done is printed first). Output cut short by its reader
(``sasnets-suggest ... | head``) ends the command quietly, with the same status.
``--json`` is strict JSON: a number that is not finite is written as ``null``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

from .classifier import DEVICES, RUNTIMES
from .errors import SasnetsError
from .estimates import describe
from .loading import load_1d
from .models.products import display_name

EXIT_OK = 0
EXIT_FAILED = 2
#: What shells report for a command stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Rescue candidates listed per file in the text output (all are in --json).
RESCUE_SHOWN = 5

#: sasdata example files the ``--demo`` option ranks (their models are known).
DEMO_FILES = ("cyl_400_20.txt", "sphere_80.txt", "latex_smeared.xml", "ISIS_Polymer_Blend_TK49.xml")


def demo_files() -> list[Path]:
    """Example data shipped with sasdata (installed with SasView)."""
    import sasdata

    folder = Path(sasdata.__file__).parent / "example_data" / "1d_data"
    return [folder / name for name in DEMO_FILES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sasnets-suggest",
        description="Suggest which sasmodels model describes small-angle scattering data. "
        "Reads every 1D format SasView reads; ranks the first 1D data set of each file.",
        epilog="Exit status: 0 when every file was ranked, 2 when any file failed "
        "(its error is printed in its place) or the results could not be written, "
        "130 when interrupted (Ctrl-C).",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="data file(s)")
    parser.add_argument("--top", type=int, default=5, metavar="K",
                        help="how many models to list per file (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON array, one object per file, in input order")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto, cpu: the light runtime (LiteRT) on the CPU; gpu: the Keras "
                        "network with TensorFlow on a GPU (needs the training extra)")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="litert: model.tflite, no TensorFlow (default unless --device gpu); "
                        "keras: model.keras with TensorFlow (needs the training extra), "
                        "e.g. to compare the two on the CPU")
    parser.add_argument("--weights", type=Path, default=None, metavar="DIR",
                        help="folder with model.keras, model.tflite, classes.json, "
                        "metadata.json (default: the bundled network)")
    parser.add_argument("--verify", action="store_true",
                        help="also fit the top K models to each file's data (sasmodels + bumps, "
                        "honouring its resolution) and re-rank them by fit evidence; when none "
                        "fits within the noise, more models are fitted (and the output says so "
                        "when still none does)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --verify: fit on the Dask cluster whose scheduler is at "
                        "ADDRESS (tcp://host:8786) instead of this machine's worker processes")
    parser.add_argument("--estimates", action="store_true",
                        help="show the network's estimate of each suggestion's main "
                        "parameters under it (sizes in Å; always in --json as \"estimate\")")
    parser.add_argument("--demo", action="store_true",
                        help="rank a few example files shipped with sasdata")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


# --- verification (--verify, --scheduler) ----------------------------------------------
def _verification_json(verification) -> dict:
    """What ``--verify`` adds to a file's result: a ``fit`` per suggestion (set by the
    caller), the verified order of every model fitted (rescue candidates included; each
    with ``may_have_failed`` and, where its rank goes against its numbers,
    ``rank_reason``), ``indistinguishable`` (the models that fit equally well, the
    chosen one first), ``no_fit`` with ``best_chi2r`` and the ``message``."""
    from .verification.fit_result import json_float

    summary = verification.to_json()
    entries = {c["model"]: c for c in summary["candidates"]}
    return {
        "verified": [
            {"model": c.model, "posterior": c.posterior, "probability": c.probability,
             "network_rank": c.network_rank or None, "rescue": c.rescue,
             "chi2r": json_float(c.chi2r) if c.ok else None,
             "bic": json_float(c.bic) if c.ok else None,
             "n_free": c.n_free if c.ok else None, "status": c.status, "verdict": c.verdict,
             "may_have_failed": entries[c.model]["may_have_failed"],
             "rank_reason": entries[c.model]["rank_reason"]}
            for c in verification.ranked],
        "indistinguishable": list(verification.indistinguishable),
        "no_fit": verification.no_fit,
        "best_chi2r": summary["best_chi2r"],
        "message": verification.message,
        "verification": {"weighting": verification.weighting,
                         "resolution": verification.resolution,
                         "seconds": round(verification.seconds, 2),
                         "rescued": verification.rescued,
                         "notes": list(verification.notes)},
    }


def _verify_all(results: list[dict], slots: list[int], rankings, top: int,
                scheduler: str | None) -> None:
    """Verify every ranked file (the pipeline, ``suggestion.verify_rankings``), spread
    over the worker pool (or the Dask cluster at ``scheduler``), and add the outcome to
    its result."""
    from .suggestion import verify_rankings
    from .verification import shutdown_pool

    try:
        if scheduler:
            from .cluster import connect

            with connect(scheduler) as client:
                outcomes = verify_rankings(rankings, top, client=client)
        else:
            outcomes = verify_rankings(rankings, top)
    except SasnetsError as exc:
        outcomes = [exc] * len(rankings)
    except OSError as exc:  # the scheduler cannot be reached
        outcomes = [SasnetsError(f"cannot use the Dask scheduler at {scheduler}: {exc}")] * len(
            rankings)
    finally:
        shutdown_pool()  # workers stop now, not in the interpreter's exit handlers
    for slot, outcome in zip(slots, outcomes):
        if isinstance(outcome, Exception):
            results[slot]["verification_error"] = str(outcome)
            continue
        fits = {c.model: c for c in outcome.candidates}
        for s in results[slot]["suggestions"]:
            s["fit"] = fits[s["model"]].fit_json()
        results[slot].update(_verification_json(outcome))


class _Interrupted(Exception):
    """Ctrl-C during the fits: ``results`` holds what was ranked."""

    def __init__(self, results: list[dict]):
        super().__init__("interrupted")
        self.results = results


def _results(paths: list[Path], weights: Path | None, device: str, top: int,
             verify_fits: bool = False, runtime: str | None = None,
             scheduler: str | None = None) -> list[dict]:
    """One JSON-ready dict per path: ``suggestions`` (plus details) or ``error``."""
    from .suggestion import get_classifier, prepare, rank

    results: list[dict] = [{"file": str(p)} for p in paths]
    prepared, slots = [], []
    for slot, path in enumerate(paths):
        try:
            curves = load_1d(path)
            item = prepare(curves[0])
        except SasnetsError as exc:
            results[slot]["error"] = str(exc)
            continue
        results[slot]["dataset"] = item.raw.title
        if len(curves) > 1:
            results[slot]["n_datasets"] = len(curves)
        results[slot]["cleaning"] = item.report.notes()
        prepared.append(item)
        slots.append(slot)
    if not prepared:
        return results
    try:
        classifier = get_classifier(str(weights) if weights else None, device, runtime)
        rankings = rank(classifier, prepared)
    except SasnetsError as exc:
        for slot in slots:
            results[slot] = {"file": results[slot]["file"], "error": str(exc)}
        return results
    for slot, ranking in zip(slots, rankings):
        results[slot]["suggestions"] = [
            {"model": m, "probability": p, **_estimate(ranking, m)} for m, p in ranking.top(top)
        ]
        results[slot]["ood"] = None if ranking.assessment is None else ranking.assessment.as_dict()
    if verify_fits:
        try:
            _verify_all(results, slots, rankings, top, scheduler)
        except KeyboardInterrupt:
            for slot in slots:
                results[slot].setdefault("verification_error", "interrupted before the fits "
                                         "finished")
            raise _Interrupted(results) from None
    return results


def _estimate(ranking, model: str) -> dict:
    """``{"estimate": {parameter: value}}`` for a network that estimates, else nothing."""
    estimate = ranking.estimate(model)
    return {"estimate": estimate} if estimate else {}


def _estimate_line(suggestion: dict) -> str | None:
    """``estimate: radius 52.1 Å, radius_pd 0.08`` for the table (None without one)."""
    estimate = suggestion.get("estimate")
    return f"estimate: {describe(suggestion['model'], estimate)}" if estimate else None


def _strict(value):
    """``value`` with every float that is not finite replaced by None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _write(results: list[dict], as_json: bool, estimates: bool = False) -> int:
    """Print the results; EXIT_FAILED when they cannot be written, else EXIT_OK."""
    try:
        if as_json:
            json.dump(_strict(results), sys.stdout, indent=1, allow_nan=False)
            print()
        else:
            for result in results:
                _print_table(result, estimates)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped reading (e.g. `| head`): nothing left to tell it.
        _detach_stdout()
    except OSError as exc:  # a full disk, /dev/full, an I/O error
        _detach_stdout()
        print(f"error: cannot write the results to the standard output "
              f"({exc.strerror or exc}).", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _detach_stdout() -> None:
    """Point stdout at /dev/null so that Python's own flush at exit does not fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_table(result: dict, estimates: bool = False) -> None:
    print(result["file"])
    if "error" in result:
        print(f"  error: {result['error']}\n")
        return
    if result.get("n_datasets"):
        print(f"  first of {result['n_datasets']} 1D data sets: {result['dataset']}")
    for note in result["cleaning"]:
        print(f"  note: {note}")
    if result.get("ood"):
        ood = result["ood"]
        verdict = f"\n  warning: {ood['warning']}" if ood["warning"] else ": like the training data"
        print(f"  OOD score {ood['score']:.2f} (threshold {ood['threshold']:.2f}){verdict}")
    if "verified" not in result:
        print(f"  {'rank':>4}  {'model':<36} probability")
        for i, s in enumerate(result["suggestions"], 1):
            print(f"  {i:>4}  {display_name(s['model']):<36} {100 * s['probability']:9.1f} %")
            line = _estimate_line(s) if estimates else None
            if line:
                print(f"  {'':>4}    {line}")
    else:
        _print_verified(result)
    if "verification_error" in result:
        print(f"  verification failed: {result['verification_error']}")
    print()


def _verified_rank(i: int, v: dict) -> str:
    """``#2 (31.0 %)``, marked when the fit may have failed."""
    mark = f" may have failed ({v['may_have_failed']})" if v["may_have_failed"] else ""
    return f"#{i} ({100 * (v['posterior'] or 0):.1f} %){mark}"


def _print_verified(result: dict) -> None:
    """The verified part of a file's table: the network's candidates with their fits and
    verified ranks, the rescue's best, the models that fit equally well, and why a rank
    goes against the numbers beside it."""
    verified = {v["model"]: (i, v) for i, v in enumerate(result["verified"], 1)}
    print(f"  {'rank':>4}  {'model':<36} probability     chi2r        BIC   verified")
    for i, s in enumerate(result["suggestions"], 1):
        fit = s["fit"]
        v_rank, v = verified[s["model"]]
        if isinstance(fit, dict):
            numbers = f"{fit['chi2r']:9.3g}  {fit['bic']:9.4g}"
        else:
            numbers = f"{'-':>9}  {'-':>9}"
        print(f"  {i:>4}  {display_name(s['model']):<36} {100 * s['probability']:9.1f} %"
              f"  {numbers}   {_verified_rank(v_rank, v)}")
    for s in result["suggestions"]:
        if not isinstance(s["fit"], dict):
            print(f"  note: {display_name(s['model'])}: {s['fit']}")
        elif not s["fit"]["within_noise"]:
            print(f"  note: {display_name(s['model'])}: {s['fit']['verdict']}")
    rescue = [(i, v) for i, v in enumerate(result["verified"], 1) if v["rescue"]]
    if rescue:
        print(f"  none of these fits within the noise: {len(rescue)} more models fitted; "
              "the best of them:")
        for i, v in rescue[:RESCUE_SHOWN]:
            chi2r = "-" if v["chi2r"] is None else f"{v['chi2r']:.3g}"
            rank = f"network #{v['network_rank']}" if v["network_rank"] else "product"
            print(f"        {display_name(v['model']):<36} {rank:>13}  chi2r {chi2r:>9}"
                  f"   {_verified_rank(i, v)}")
    shown = result["verified"][:len(result["suggestions"])]
    print("  verified order: " + ", ".join(display_name(v["model"]) for v in shown))
    group = result["indistinguishable"]
    if len(group) > 1:
        print(f"  these fit the data equally well: {', '.join(display_name(m) for m in group)}; "
              f"the simplest is {display_name(group[0])}")
    for i, v in enumerate(shown, 1):
        if v["rank_reason"]:
            print(f"  why #{i} {display_name(v['model'])}: {v['rank_reason']}")
    print(f"  {'NO FIT: ' if result['no_fit'] else ''}{result['message']}")
    print(f"  fit weighting: {result['verification']['weighting']}; "
          f"resolution: {result['verification']['resolution']}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    paths = list(args.paths) + (demo_files() if args.demo else [])
    if not paths:
        parser.error("give at least one data file (or --demo)")
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.scheduler and not args.verify:
        parser.error("--scheduler needs --verify (the ranking itself runs here)")
    if sys.stdout is None:  # started with stdout closed (`sasnets-suggest ... >&-`)
        print("error: the standard output is closed: the results could not be written.",
              file=sys.stderr)
        return EXIT_FAILED
    interrupted = False
    try:
        results = _results(paths, args.weights, args.device, args.top, args.verify,
                           args.runtime, args.scheduler)
    except _Interrupted as stop:
        results, interrupted = stop.results, True
    except KeyboardInterrupt:  # before any file was ranked: nothing to print
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    status = EXIT_FAILED if any("error" in r for r in results) else EXIT_OK
    status = max(status, _write(results, args.json, args.estimates))
    if interrupted:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


if __name__ == "__main__":
    sys.exit(main())
