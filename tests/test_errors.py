"""Library errors name parameters; the CLI names the flags that set them (errors.CurateError.render)."""

import pytest
from click.testing import CliRunner

from curate.checks import run as run_checks
from curate.cli import main
from curate.errors import UsageError
from curate.formats import parse_mapping


def test_library_message_names_the_parameter():
    with pytest.raises(UsageError) as err:
        parse_mapping(["bad"])
    assert str(err.value) == "mapping 'bad': expected SOURCE_FIELD=TARGET_FIELD, e.g. mapping question=instruction"


def test_render_replaces_only_declared_placeholders():
    exc = UsageError("{force} or {value}; {no_header}", params={"force": "force=True", "no_header": "header_row=False"})
    assert str(exc) == "force=True or {value}; header_row=False"
    assert exc.render({"force": "--force"}.get) == "--force or {value}; header_row=False"


def test_a_check_refusal_reads_in_library_terms(tmp_path):
    with pytest.raises(UsageError, match=r"^prune_bottom must be a share between 0 and 1 \(e.g. 10%\), got 1.5$"):
        run_checks("none", workspace=tmp_path / "ws", prune_bottom=1.5)


def test_cli_names_its_flags_where_names_differ(tmp_path):
    """`header_row` is set by --no-header and `columns` by --columns; `mapping` by --map."""
    data = tmp_path / "c.csv"
    data.write_text("1,2\n3,4\n")
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    refused = runner.invoke(main, ["-w", ws, "ingest", str(data)])
    assert refused.exit_code == 2 and "pass --no-header --columns text,label" in refused.output
    bad_map = runner.invoke(main, ["-w", ws, "ingest", str(data), "--map", "bad"])
    assert bad_map.exit_code == 2
    assert "error: --map 'bad': expected SOURCE_FIELD=TARGET_FIELD, e.g. --map question=instruction" in bad_map.output


def test_a_limit_is_named_as_the_caller_sets_it(tmp_path):
    from curate.readers.limits import Limits

    with pytest.raises(UsageError, match=r"^limits.ratio must be at least 1$"):
        Limits(ratio=0.5)
    data = tmp_path / "a.jsonl"
    data.write_text('{"instruction": "hi", "output": "there"}\n')
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "ingest", str(data),
                                       "--max-decompression-ratio", "0.5"])
    assert result.exit_code == 2 and result.output == "error: --max-decompression-ratio must be at least 1\n"


def test_a_map_that_misses_says_which_side_missed(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"question": "a", "output": "b"}\n')
    (tmp_path / "s.json").write_text('[1, null, "x"]')

    def rejected(ws: str, *args: str) -> str:
        result = CliRunner().invoke(main, ["-w", str(tmp_path / ws), "ingest", *args, "--as", "m"])
        return " ".join(result.output.split())

    typo = rejected("a", str(tmp_path / "m.jsonl"), "--map", "question=instructoin")
    assert "--map question=instructoin: no format reads a field 'instructoin' (did you mean instruction?)" in typo
    absent = rejected("b", str(tmp_path / "m.jsonl"), "--map", "questionnn=instruction")
    assert "--map questionnn=instruction: the row has no field 'questionnn'" in absent
    scalars = rejected("c", str(tmp_path / "s.json"))
    assert all(f"the record is a JSON {t}, not an object" in scalars for t in ("number", "null", "string"))


def test_a_workspace_that_is_a_file_is_named_by_where_it_was_set(tmp_path):
    (tmp_path / "afile").write_text("")
    by_env = CliRunner().invoke(main, ["status"], env={"CURATE_WORKSPACE": str(tmp_path / "afile")})
    assert by_env.exit_code == 2 and f"CURATE_WORKSPACE={tmp_path / 'afile'} is a file" in by_env.output
    by_flag = CliRunner().invoke(main, ["-w", str(tmp_path / "afile"), "status"])
    assert by_flag.exit_code == 2 and f"--workspace {tmp_path / 'afile'} is a file" in by_flag.output
