"""Loading the problem bank, seeded variants and the built-in mistake families."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.answers import GradingRules
from grader.bank import BankError, json_schema, load_bank
from grader.errors import ProblemSpecError
from grader.lint import lint_problem
from grader.mistakes import FAMILIES, FAMILY_TAGS
from grader.variants import Figure, Mistake, Variant, generate, stable_hash


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
    id: {pid}
    title: A padding problem
    topic: padding
    answer_type: integer
    params:
      n: {{int: [5, 9]}}
      p: {{int: [1, 2]}}
    prompt: "Pad an ${{{{ n }}}} \\\\times {{{{ n }}}}$ image by {{{{ p }}}}: how many rows?"
    answer: n + 2*p
"""


def good(pid: str = "pad-rows") -> str:
    return textwrap.dedent(GOOD.format(pid=pid))


# --- loading -------------------------------------------------------------------------------


def test_the_shipped_bank_loads_with_sets(bank):
    assert len(bank.problems) >= 40
    assert {"demo", "week1-sizes"} <= set(bank.sets)
    demo = bank.sets["demo"]
    assert demo.title == "CNN foundations: the whole course"
    assert {bank.problems[i.problem_id].topic for i in demo.items} == {
        p.topic for p in bank.problems.values()}
    guessable = ("truefalse", "choice")  # one attempt unless the set says otherwise
    assert all(i.attempts == (1 if bank.problems[i.problem_id].answer_type in guessable else 3)
               for i in demo.items)
    assert bank.sets["week1-sizes"].due is not None


def test_a_minimal_bank_loads(tmp_path):
    write(tmp_path, "pad.yaml", good())
    write(tmp_path, "sets/s.yaml", """\
        id: s
        title: A set
        problems: [{problem: pad-rows, points: 2}]
    """)
    loaded = load_bank(tmp_path)
    assert list(loaded.problems) == ["pad-rows"]
    assert loaded.sets["s"].items[0].points == 2.0
    assert loaded.sets["s"].items[0].attempts == 3


@pytest.mark.parametrize(("edit", "message"), [
    (("int: [5, 9]", "int: [9, 5]"),
     r"pad.yaml: problem 'pad-rows': field 'params.n.int': expected \[low, high\] with low <= "
     r"high, got \[9, 5\]"),
    (("topic: padding", "topic: paddings"), r"problem 'pad-rows': field 'topic': .*got 'paddings'"),
    (("answer_type: integer", "answer_type: integr"),
     r"field 'answer_type': .*got 'integr'"),
    (("answer: n + 2*p", "answer: n + 2*q"),
     r"problem 'pad-rows': field 'answer': expression 'n \+ 2\*q' uses undefined name\(s\) q"),
    (("answer: n + 2*p", "answer: n.real + 1"), r"field 'answer': .*Attribute"),
    (("p: {int: [1, 2]}", "p: {integer: [1, 2]}"), r"field 'params.p': expected one of"),
    (("title: A padding problem", "title: A padding problem\ncolour: red"),
     r"field 'colour': Extra inputs are not permitted, got 'red'"),
    (("prompt: \"Pad", "prompt: \"{{ n"), r"field 'prompt': template error"),
    (("id: pad-rows", "id: Pad Rows"), r"field 'id': String should match pattern"),
])
def test_errors_name_file_problem_field_and_value(tmp_path, edit, message):
    old, new = edit
    text = good()
    assert old in text
    write(tmp_path, "pad.yaml", text.replace(old, new))
    with pytest.raises(BankError, match=message) as info:
        load_bank(tmp_path)
    assert all("pad.yaml" in line for line in info.value.errors)


def test_every_broken_file_is_reported_and_nothing_is_half_loaded(tmp_path):
    write(tmp_path, "a.yaml", good("a-ok"))
    write(tmp_path, "b.yaml", good("b-bad").replace("int: [5, 9]", "int: [9, 5]"))
    write(tmp_path, "c.yaml", "problems: [\n")
    write(tmp_path, "d.yaml", good("a-ok"))
    with pytest.raises(BankError) as info:
        load_bank(tmp_path)
    errors = info.value.errors
    assert any("b.yaml: problem 'b-bad'" in e for e in errors)
    assert any("c.yaml: not valid YAML" in e for e in errors)
    assert any("d.yaml: problem 'a-ok': field 'id': the id is already used in" in e
               for e in errors)
    assert len(errors) == 3


def test_a_file_with_one_bad_problem_gives_none_of_its_problems(tmp_path):
    from grader.bank import load_problem_file

    two = """\
        problems:
          - id: one
            title: One
            topic: padding
            answer_type: integer
            prompt: "How much?"
            answer: 3
          - id: two
            title: Two
            topic: padding
            answer_type: integer
            prompt: "How much?"
            answer: 3 +
    """
    path = write(tmp_path, "two.yaml", two)
    problems, errors = load_problem_file(path, tmp_path)
    assert problems == []
    assert len(errors) == 1 and "problem 'two': field 'answer'" in errors[0]


def test_sets_must_name_existing_problems(tmp_path):
    write(tmp_path, "pad.yaml", good())
    write(tmp_path, "sets/s.yaml", """\
        id: s
        title: A set
        due: not a date
        problems: [{problem: nope, attempts: 0}]
    """)
    with pytest.raises(BankError, match=r"sets/s.yaml: set 's': field 'due'") as info:
        load_bank(tmp_path)
    assert any("field 'problems.0.attempts'" in e for e in info.value.errors)
    write(tmp_path, "sets/s.yaml", "id: s\ntitle: A set\nproblems: [{problem: nope}]\n")
    with pytest.raises(BankError, match=r"field 'problems.0.problem': no problem with id 'nope'"):
        load_bank(tmp_path)


def test_choice_problems_are_checked(tmp_path):
    text = good().replace("answer_type: integer", "answer_type: choice")
    write(tmp_path, "pad.yaml", text)
    with pytest.raises(BankError, match="a choice problem needs options"):
        load_bank(tmp_path)
    text += "options:\n  static:\n    - {text: a}\n    - {text: b}\n"
    write(tmp_path, "pad.yaml", text)
    with pytest.raises(BankError, match="no option is marked correct"):
        load_bank(tmp_path)


def test_schema_is_json_schema_for_problems_and_sets():
    schema = json_schema()
    json.dumps(schema)
    problem = schema["$defs"]["Problem"]
    assert {"id", "title", "topic", "answer_type", "prompt"} <= set(problem["required"])
    assert problem["additionalProperties"] is False
    assert "ProblemSet" in schema["$defs"]


# --- variants --------------------------------------------------------------------------------


def test_variants_are_a_pure_function_of_id_and_seed(bank):
    for problem in bank.problems.values():
        first = generate(problem, 12345)
        assert generate(problem, 12345) == first
        assert Variant.from_json(json.loads(json.dumps(first.to_json()))) == first


def test_different_seeds_give_different_variants(bank):
    problem = bank.problems["conv-output-volume"]
    prompts = {generate(problem, seed).prompt for seed in range(20)}
    assert len(prompts) > 15


def test_the_seed_hash_is_stable_across_processes():
    # sha256-based, so this number never changes (Python's hash() would, per process)
    assert stable_hash("conv-output-volume") == 9036886276143874540


@given(st.integers(0, 2**63))
def test_any_seed_works(seed):
    problem = load_bank_cached().problems["conv-params-layer"]
    variant = generate(problem, seed)
    assert isinstance(variant.answer, int) and variant.answer > 0


_CACHE: dict = {}


def load_bank_cached():
    if "bank" not in _CACHE:
        _CACHE["bank"] = load_bank()
    return _CACHE["bank"]


def test_negative_seed_is_refused(bank):
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        generate(bank.problems["padding-volume"], -1)


def test_overrides(bank):
    problem = bank.problems["conv-output-volume"]
    variant = generate(problem, 0, {"n": 63, "f": 7})
    assert variant.params["n"] == 63 and variant.params["f"] == 7
    with pytest.raises(ProblemSpecError, match="has no parameter 'q'"):
        generate(problem, 0, {"q": 1})
    with pytest.raises(ProblemSpecError, match="'n' must be an integer, got 'big'"):
        generate(problem, 0, {"n": "big"})
    with pytest.raises(ProblemSpecError, match="'p' is derived"):
        generate(bank.problems["same-padding-output"], 0, {"p": 1})


def test_unmeetable_constraints_name_the_template(tmp_path):
    write(tmp_path, "pad.yaml", good() + "where: n > 100\n")
    problem = load_bank(tmp_path).problems["pad-rows"]
    with pytest.raises(ProblemSpecError, match=r"pad.yaml: problem 'pad-rows': field 'where': "
                                               r"the constraints \(n > 100\) were not met"):
        generate(problem, 0)


def test_figures_and_json_round_trip():
    v = Variant("p", 1, "T", "edge-detection", "matrix", {"x": [[1, 2]]}, "prompt", [[1]],
                None, (Mistake("t", [[2]], "m"),), GradingRules(partial_credit=True),
                (Figure("x", ((1, 2),)),))
    assert Variant.from_json(json.loads(json.dumps(v.to_json()))) == v


def test_choice_options_are_distinct_and_shuffled_per_seed(bank):
    problem = bank.problems["conv-params-choice"]
    orders = set()
    for seed in range(30):
        v = generate(problem, seed)
        assert len(set(v.options)) == len(v.options) >= 3
        assert v.answer in v.options
        assert all(m.value in v.options for m in v.mistakes)
        orders.add(v.options.index(v.answer))
    assert len(orders) > 1


def test_truefalse_statements_have_their_message_as_mistake(bank):
    v = generate(bank.problems["pooling-facts-tf"], 3)
    assert isinstance(v.answer, bool)
    assert v.mistakes[0].value is (not v.answer)


# --- built-in mistake families ----------------------------------------------------------------


def tags_and_values(bank, problem_id, **overrides):
    v = generate(bank.problems[problem_id], 0, overrides)
    return {m.tag: m.value for m in v.mistakes}, v


def values_by_tag(bank, problem_id, **overrides):
    v = generate(bank.problems[problem_id], 0, overrides)
    found: dict[str, list] = {}
    for m in v.mistakes:
        found.setdefault(m.tag, []).append(m.value)
    return found, v


@pytest.mark.parametrize(("problem_id", "overrides", "tag", "value"), [
    ("conv-params-layer", dict(f=3, c=3, k=10), "bias-forgotten", 270),
    ("conv-params-layer", dict(f=3, c=3, k=10), "input-channels-forgotten", 100),
    ("conv-params-layer", dict(f=3, c=3, k=10), "biases-multiplied", 2700),
    ("conv-params-layer", dict(f=3, c=3, k=10), "one-filter-only", 28),
    ("conv-output-volume", dict(n=63, c=16, k=32, f=7, s=2, p=0), "plus-one-forgotten",
     [28, 28, 32]),
    ("conv-output-volume", dict(n=63, c=16, k=32, f=7, s=2, p=0), "channels-instead-of-filters",
     [29, 29, 16]),
    ("conv-output-volume", dict(n=63, c=3, k=8, f=3, s=1, p=2), "pad-counted-once",
     [63, 63, 8]),
    ("strided-floor-size", dict(n=10, f=3, s=2, p=0), "round-instead-of-floor", 5),
    ("strided-floor-size", dict(n=10, f=3, s=3, p=0), "ceil-instead-of-floor", 4),
    ("pool-output-volume", dict(n=32, c=16, f=2, s=2), "pooling-changes-depth", [16, 16, 8]),
    ("padding-volume", dict(n=15, c=8, p=2), "pad-one-side-only", [17, 17, 8]),
    ("padding-volume", dict(n=15, c=8, p=2), "padding-changes-depth", [19, 19, 12]),
    ("same-padding-p", dict(f=7), "pad-counted-once", 6),
    ("fc-params-image", dict(n=300, c=3, units=100), "fc-bias-per-input", 27_270_000),
    ("fc-params-image", dict(n=300, c=3, units=100), "bias-forgotten", 27_000_000),
    ("fc-params-image", dict(n=300, c=3, units=100), "biases-multiplied", 2_700_000_000),
    ("fc-connections-log10", dict(a=3, b=2), "log10-wrong-count", 6),
    ("fc-connections-log10", dict(a=3, b=2), "exponents-multiplied", 24),
    ("conv1d-full", dict(x=[1, 2, 3], w=[2, 1]), "kernel-not-flipped", [1, 4, 7, 6]),
    ("corr-vs-conv-1d", dict(x=[1, 2, 3, 4, 5], w=[1, 0, -1]), "kernel-flipped", [2, 2, 2]),
    ("conv1d-flipped-filter", dict(x=[1, 3, -1, 1, -3], w=[1, 0, -1], pad=1),
     "pad-one-side-only", [-3, 2, 2, 2]),
    ("conv2d-valid-matrix", dict(x=[[1, 2, 0], [0, 1, 0], [0, 0, 1]], w=[[1, 0], [0, 0]]),
     "kernel-flipped", [[1, 0], [0, 1]]),
    ("pool-params-count", dict(n=8, c=16, f=2, s=2), "pooling-params-counted", 64),
    ("lenet-params", dict(n=32, c=3, f1=5, k1=8, f2=5, k2=16, u3=120, u4=84, row=1),
     "pooling-params-counted", 32),
])
def test_mistake_families_produce_the_slip(bank, problem_id, overrides, tag, value):
    found, variant = values_by_tag(bank, problem_id, **overrides)
    assert value in found[tag]
    assert variant.answer != value


def test_padding_on_either_side_only_is_one_misconception_with_two_values(bank):
    found, variant = values_by_tag(bank, "conv1d-flipped-filter", x=[1, 3, -1, 1, -3],
                                   w=[1, 0, -1], pad=1)
    assert variant.answer == [-3, 2, 2, 2, 1]
    assert found["pad-one-side-only"] == [[-3, 2, 2, 2], [2, 2, 2, 1]]
    messages = {m.message for m in variant.mistakes if m.tag == "pad-one-side-only"}
    assert len(messages) == 1


def test_a_family_equal_to_the_answer_is_dropped(bank):
    # (64 + 2 - 2) / 2 = 32 exactly: rounding and ceiling give the right answer, so no mistake
    found, _ = tags_and_values(bank, "strided-floor-size", n=64, f=2, s=2, p=1)
    assert "round-instead-of-floor" not in found and "ceil-instead-of-floor" not in found
    found, _ = tags_and_values(bank, "conv-output-volume", n=9, c=3, k=3, f=3, s=1, p=0)
    assert "channels-instead-of-filters" not in found


def test_families_only_attach_where_they_fit(bank):
    # a padding problem whose answer is not n + 2p gets no padding family
    found, _ = tags_and_values(bank, "padding-then-conv", n=10, f=3, p=2)
    assert "pad-one-side-only" not in found
    assert "pad-counted-once" in found


def test_families_can_be_turned_off_or_excluded(tmp_path):
    base = good().replace("answer: n + 2*p", "answer: n + 2*p\nfamilies: false")
    write(tmp_path, "pad.yaml", base)
    assert generate(load_bank(tmp_path).problems["pad-rows"], 0).mistakes == ()
    write(tmp_path, "pad.yaml", good() + "families: {exclude: [pad-one-side-only]}\n")
    assert generate(load_bank(tmp_path).problems["pad-rows"], 0).mistakes == ()
    write(tmp_path, "pad.yaml", good())
    tags = {m.tag for m in generate(load_bank(tmp_path).problems["pad-rows"], 0).mistakes}
    assert tags == {"pad-one-side-only"}
    write(tmp_path, "pad.yaml", good() + "families: {exclude: [no-such-family]}\n")
    with pytest.raises(BankError, match="unknown tag"):
        load_bank(tmp_path)


def test_every_family_tag_is_seen_somewhere_in_the_bank(bank):
    seen = set()
    for problem in bank.problems.values():
        report = lint_problem(problem, 40)
        seen |= report.tags
    expected = FAMILY_TAGS - {"padding-ignored", "pooling-depth-halved", "same-padding-rounded-up"}
    assert expected <= seen
    assert set(FAMILIES) <= {p.topic for p in bank.problems.values()}


def test_figure_captions_use_the_symbols_of_the_prompt(bank):
    figured = [p for p in bank.problems.values() if p.figures]
    assert figured
    for problem in figured:
        v = generate(problem, 0)
        for figure in v.figures:
            symbol = figure.name.split()[-1]  # "filter K" is shown where the prompt says $K = ...$
            assert re.search(rf"\${{1,2}}{symbol} =", v.prompt), (problem.id, figure.name)


def test_mistake_values_never_equal_the_answer(bank):
    for problem in bank.problems.values():
        for seed in range(15):
            v = generate(problem, seed)
            assert all(m.value != v.answer for m in v.mistakes), (problem.id, seed)
            values = [json.dumps(m.value) for m in v.mistakes]
            assert len(set(values)) == len(values), (problem.id, seed)
            # a tag may name several values of one misconception, always with one message
            messages = {m.tag: m.message for m in v.mistakes}
            assert all(messages[m.tag] == m.message for m in v.mistakes), (problem.id, seed)


# --- lint -------------------------------------------------------------------------------------


def test_lint_finds_nothing_in_the_shipped_bank(bank):
    for problem in bank.problems.values():
        assert lint_problem(problem, 25).findings == (), problem.id


def test_lint_reports_a_non_integer_answer(tmp_path):
    write(tmp_path, "pad.yaml", good().replace("answer: n + 2*p", "answer: n / 2 + p"))
    report = lint_problem(load_bank(tmp_path).problems["pad-rows"], 20)
    assert any("is not a valid integer" in f for f in report.findings)


def test_a_tag_may_name_two_values_with_one_message_only(tmp_path):
    twice = ("mistakes:\n"
             "  - {tag: pad-once, expr: n + p, message: Pad both sides.}\n"
             "  - {tag: pad-once, expr: n + p + 1, message: Pad both sides.}\n")
    write(tmp_path, "pad.yaml", good() + twice)
    variant = generate(load_bank(tmp_path).problems["pad-rows"], 0, {"n": 6, "p": 2})
    assert [(m.tag, m.value) for m in variant.mistakes[:2]] == [("pad-once", 8), ("pad-once", 9)]
    write(tmp_path, "pad.yaml", good() + twice.replace("Pad both sides.}\n", "Pad.}\n", 1))
    with pytest.raises(BankError, match="'pad-once' repeats with another message"):
        load_bank(tmp_path)


def test_lint_reports_a_mistake_no_student_can_type(tmp_path):
    untypeable = ("mistakes:\n  - tag: half-padding\n    expr: \"[n, [p]]\"\n"
                  "    message: Pad both sides.\n")
    write(tmp_path, "pad.yaml", good() + untypeable)
    report = lint_problem(load_bank(tmp_path).problems["pad-rows"], 20)
    assert len(report.findings) == 1  # reported once, not once per variant
    assert ("mistake 'half-padding' can never be typed: its value is not a valid integer"
            in report.findings[0])
    write(tmp_path, "pad.yaml", good() + untypeable.replace("[n, [p]]", "n + 3 * p"))
    assert lint_problem(load_bank(tmp_path).problems["pad-rows"], 20).findings == ()


def test_the_examples_of_the_authoring_guide_load_and_lint(tmp_path):
    guide = Path(__file__).resolve().parent.parent / "docs" / "authoring.md"
    blocks = re.findall(r"```yaml\n(id: .*?)```", guide.read_text(), re.S)
    assert len(blocks) >= 3
    for i, block in enumerate(blocks):
        (tmp_path / f"example{i}.yaml").write_text(block)
    loaded = load_bank(tmp_path)
    assert {"fc-params-image", "edge-vertical-step", "why-conv-multiselect"} <= set(loaded.problems)
    for problem in loaded.problems.values():
        assert lint_problem(problem, 10).findings == ()


# --- prompts -----------------------------------------------------------------------------------


def test_prompts_render_math_for_the_terminal():
    from grader.cli.terminal import to_terminal
    from grader.prompts import latex, num, shape

    assert latex([[1, 0], [0.5, 2]]) == r"\begin{bmatrix} 1 & 0 \\ 0.5 & 2 \end{bmatrix}"
    assert latex([1, 2]) == "[1, 2]" and shape([29, 29, 32]) == r"29 \times 29 \times 32"
    assert num(27000100) == "27,000,100"
    text = to_terminal(r"Size $\lfloor (n + 2p - f)/s \rfloor + 1$ of $3 \times 3$, "
                       r"$\log_{10} x$ and $$K = \begin{bmatrix} 1 & -1 \\ 10 & 0 \end{bmatrix}$$")
    assert "⌊ (n + 2p - f)/s ⌋ + 1" in text and "3 × 3" in text and "log_10 x" in text
    assert "[  1 -1 ]" in text and "[ 10  0 ]" in text and "$" not in text


def test_prompt_templates_are_sandboxed_and_strict(tmp_path):
    write(tmp_path, "pad.yaml", good().replace("{{ p }}", "{{ q }}"))  # found at load now
    with pytest.raises(ProblemSpecError, match="field 'prompt': the template uses 'q', which is "
                                               r"not defined \(it can use: n, p\) \(line \d+\)"):
        load_bank(tmp_path)
    write(tmp_path, "pad.yaml", good().replace("{{ p }}", "{{ p.__class__.__mro__ }}"))
    problem = load_bank(tmp_path).problems["pad-rows"]
    with pytest.raises(ProblemSpecError, match="field 'prompt'"):
        generate(problem, 0)


@given(st.sampled_from(sorted(load_bank_cached().problems)), st.integers(0, 10**12))
def test_every_variant_is_json(problem_id, seed):
    variant = generate(load_bank_cached().problems[problem_id], seed)
    assert Variant.from_json(json.loads(json.dumps(variant.to_json()))) == variant


@pytest.mark.parametrize("prompt", ["{{ 2 ** 1000 }}", "{{ 'ab' * 10 ** 6 }}", "{{ n / 0 }}"])
def test_prompt_templates_cannot_hang_or_crash(tmp_path, prompt):
    write(tmp_path, "pad.yaml", good().replace("Pad an", prompt))
    problem = load_bank(tmp_path).problems["pad-rows"]
    with pytest.raises(ProblemSpecError, match="pad.yaml: problem 'pad-rows': field 'prompt'"):
        generate(problem, 0)


def test_mistake_messages_never_contain_the_answer(bank):
    from grader.grading import describe_answer

    for problem in bank.problems.values():
        if problem.answer_type in ("truefalse", "choice", "multiselect"):
            continue
        for seed in range(10):
            v = generate(problem, seed)
            shown = describe_answer(v)
            plain = shown.replace(",", "")
            for m in v.mistakes:
                for text in {shown, plain}:
                    pattern = rf"(?<![\w.]){re.escape(text)}(?![\w.])"
                    assert len(plain) < 2 or not re.search(pattern, m.message), (problem.id, seed)


def test_every_finding_of_one_problem_is_reported(tmp_path):
    text = (good().replace("answer: n + 2*p", "answer: n.real\nmistakes:\n"
                           "  - {tag: a, expr: 'p +', message: m}")
            .replace("{{ p }}", "{{ p "))
    write(tmp_path, "pad.yaml", text)
    with pytest.raises(BankError) as info:
        load_bank(tmp_path)
    fields = [re.search(r"field '([^']+)'", e).group(1) for e in info.value.errors]
    assert fields == ["answer", "prompt", "mistakes.0.expr"]


@pytest.mark.parametrize("number, word", [
    (3, "a"), (8, "an"), (10, "a"), (11, "an"), (12, "a"), (18, "an"), (28, "a"), (80, "an"),
    (89, "an"), (100, "a"), (800, "an"), (1000, "a"), (8000, "an"), (11000, "an"), (18500, "an"),
    (110, "a"),
])
def test_prompt_article_follows_how_the_number_is_read(number, word):
    from grader.prompts import article

    assert article(number) == word
    assert article(number, True) == word.capitalize()


def test_no_shipped_prompt_says_a_or_an_wrongly_before_a_number(bank):
    from grader.prompts import article

    wrong = []
    for problem in bank.problems.values():
        for seed in range(40):
            prompt = generate(problem, seed).prompt
            for said, number in re.findall(r"\b([Aa]n?) \$(\d+)", prompt):
                if said.lower() != article(int(number)):
                    wrong.append(f"{problem.id} seed {seed}: {said} {number}")
    assert not wrong, wrong[:5]


# --- grading settings: typed once, on load ------------------------------------------------


def test_grading_settings_are_checked_once_on_load_and_travel_typed(tmp_path):
    from grader.answers import GradingRules

    write(tmp_path, "pad.yaml", good() + "grading: {atol: 1, partial_credit: true}\n")
    problem = load_bank(tmp_path).problems["pad-rows"]
    assert problem.rules == GradingRules(atol=1.0, partial_credit=True)
    variant = generate(problem, 3)
    assert variant.rules is problem.rules
    assert variant.to_json()["grading"] == {"atol": 1.0, "partial_credit": True}


def test_a_stored_variant_decodes_its_grading_settings():
    from grader.answers import GradingRules

    stored = generate(load_bank().problems["conv-params-layer"], 0).to_json()
    old_row = {**stored, "grading": {"rtol": 0.01, "unknown_key": "ignored"}}
    assert Variant.from_json(old_row).rules == GradingRules(rtol=0.01)
    assert Variant.from_json({**stored, "grading": None}).rules == GradingRules()
    with pytest.raises(ProblemSpecError, match=r"grading\.atol must be a non-negative number, "
                                               r"got -1"):
        Variant.from_json({**stored, "grading": {"atol": -1}})


def test_negative_tolerance_in_yaml_is_a_bank_error(tmp_path):
    write(tmp_path, "pad.yaml", good() + "grading: {atol: -1}\n")
    with pytest.raises(BankError, match=r"pad.yaml: problem 'pad-rows': field 'grading.atol'"):
        load_bank(tmp_path)
