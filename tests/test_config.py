import pytest

from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.config import load_config, parse_override, validate_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_and_overrides(tmp_path):
    path = write(tmp_path, "model:\n  k: 3\n")
    cfg = load_config(path, ["model.xi=0.25", "solver.params.num_sweeps=50", "data.tickers=[A, B]"])
    assert cfg.model.xi == 0.25
    assert cfg.solver.params == {"num_sweeps": 50}
    assert cfg.data.tickers == ["A", "B"]
    assert (
        cfg.data.source == "sample" and cfg.data.max_gap == 5 and cfg.data.missing == "drop_assets"
    )
    assert cfg.model.penalty.scale == 1.0 and cfg.model.penalty.value is None
    assert cfg.solver.name == "swap" and cfg.solver.num_reads == 20 and cfg.solver.seed == 0
    assert cfg.model.windows.unit == "trading_days"


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("model:\n  k: 3\n  foo: 1\n", [], "unknown key model.foo"),
        ("modle:\n  k: 3\n", [], "unknown key modle"),
        ("data:\n  source: csv\nmodel:\n  k: 3\n", [], "data.path is missing"),
        ("model:\n  k: 3\n", ["model.windows.step=2", "model.windows.count=3"], "not both"),
        ("model:\n  k: three\n", [], "model.k"),
        ("model: [1, 2\n", [], "not valid YAML at line"),
        ("- 1\n", [], "expected a YAML mapping"),
        ("solver:\n  name: sa\n", [], "missing required key model"),
        ("model:\n  k: 3\n", ["model.windows.length=-4"], "must be a positive number"),
        ("model:\n  k: 3\n", ["data.missing=fill"], "data.missing"),
        ("model:\n  k: 3\n", ["model.penalty.scale=-1"], "model.penalty.scale"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, overrides, message):
    with pytest.raises(InputError, match=message) as info:
        load_config(write(tmp_path, text), overrides)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_override("model.xi")


def test_validate_config_round_trips():
    cfg = validate_config({"model": {"k": 2}})
    assert validate_config(cfg.model_dump()) == cfg


@pytest.mark.parametrize("key", ["data.start", "data.end", "backtest.start", "backtest.end"])
@pytest.mark.parametrize(
    "text", ["01.06.2017", "01/06/2017", "06/01/2017", "2017/06/01", "20170601"]
)
def test_config_dates_other_than_iso_are_refused_not_guessed(tmp_path, key, text):
    """01.06.2017 could be the 1st of June or the 6th of January: never guessed."""
    with pytest.raises(InputError, match=f"{key}: '{text}' is not a date written YYYY-MM-DD"):
        load_config(write(tmp_path, "model:\n  k: 3\n"), [f"{key}='{text}'"])


@pytest.mark.parametrize(
    ("value", "iso"), [("2017-06-01", "2017-06-01"), ("'2017-06-01'", "2017-06-01")]
)
def test_iso_config_dates_are_kept_as_iso_text(tmp_path, value, iso):
    cfg = load_config(write(tmp_path, f"model:\n  k: 3\ndata:\n  start: {value}\n"))
    assert cfg.data.start == iso
    with pytest.raises(InputError, match="not a date written YYYY-MM-DD"):
        load_config(write(tmp_path, "model:\n  k: 3\ndata:\n  start: '2017-02-30'\n"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.k=2.5", "--set model.k=2.5: model.k is 2.5: give a whole number"),
        ("model.xi=abc", "--set model.xi=abc: model.xi is 'abc': give a number"),
        (
            "report.plots=maybe",
            "--set report.plots=maybe: report.plots is 'maybe': give true or false",
        ),
        ("model.xii=1", r"--set model.xii=1: unknown key model.xii \(did you mean model.xi\?"),
    ],
)
def test_an_error_in_a_set_option_names_the_option_not_the_file(tmp_path, override, message):
    with pytest.raises(InputError, match=message):
        load_config(write(tmp_path, "model:\n  k: 3\n"), [override])
    with pytest.raises(InputError, match=r"c.yaml: model.k is 2.5: give a whole number"):
        load_config(write(tmp_path, "model:\n  k: 2.5\n"))


def test_a_section_error_names_the_file_with_the_set_options_inside_it(tmp_path):
    path = write(tmp_path, "data:\n  source: csv\nmodel:\n  k: 3\n")
    with pytest.raises(InputError, match=r"c\.yaml with --set data\.start=2017-01-01: data: "):
        load_config(path, ["data.start=2017-01-01"])
    with pytest.raises(InputError, match=r"--set data\.start=2017: .*2017 is not a date written"):
        load_config(path, ["data.start=2017"])
