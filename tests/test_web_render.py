"""Server-side rendering: LaTeX to MathML, arrays as matrices, figures as shaded grids."""

from __future__ import annotations

import pytest

from web.render import SHADES, grid_cells, render_prompt, render_text, value_to_html


def test_inline_and_display_math_become_mathml():
    html = str(render_text(r"Input $n \times n$ and $$K = \begin{bmatrix} 1 & 0 \\ 0 & 1 \end{bmatrix}$$"))
    assert html.count("<math") == 2
    assert 'display="inline"' in html and 'display="block"' in html
    assert "<mtable" in html and "$" not in html


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "a < b & c", '"><img src=x>'])
def test_prose_is_escaped(text):
    html = str(render_prompt(text))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;" in html


def test_math_cannot_inject_markup():
    html = str(render_text(r"$x < y \text{<b>hi</b>}$"))
    assert "<b>" not in html


def test_nested_lists_in_prose_are_drawn_as_matrices():
    html = str(render_text("The image [[1, 2], [3, 4]] is small."))
    assert "<mtable" in html and html.count("<mtr>") == 2
    assert "[[" not in html


def test_paragraphs_bold_and_code():
    html = str(render_prompt("First line\ncontinues.\n\nSecond **bold** and `code`."))
    assert html.count("<p>") == 2 and "First line continues." in html
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html


def test_unconvertible_math_falls_back_to_escaped_source():
    html = str(render_text(r"$\begin{bmatrix}$"))
    assert "<code>" in html or "<math" in html


def test_value_to_html_shows_matrices_and_vectors():
    assert "<mtable" in str(value_to_html([[1, 2], [3, 4.5]]))
    assert str(value_to_html([1, 2.0, 3])) == "[1, 2, 3]"
    assert str(value_to_html(7.0)) == "7"


def test_grid_cells_shade_from_darkest_minimum_to_lightest_maximum():
    grid = grid_cells([[10, 10, 0], [10, 5, 0]])
    assert [[c.text for c in row] for row in grid] == [["10", "10", "0"], ["10", "5", "0"]]
    assert grid[0][0].shade == SHADES and grid[0][2].shade == 0
    assert grid[1][1].shade == SHADES // 2


def test_constant_grid_is_mid_grey():
    assert {c.shade for row in grid_cells([[3, 3], [3, 3]]) for c in row} == {SHADES // 2}


def test_problem_page_draws_figures_as_shaded_tables(app, client, auth):
    figured = [p.id for p in app.extensions["stride_bank"].problems.values()
               if "edge" in p.topic]
    if not figured:
        pytest.skip("the bank has no edge-detection problem")
    auth.login()
    for pid in figured:
        page = client.get(f"/sets/open-set/{pid}").get_data(as_text=True)
        if 'class="grid"' in page:
            assert 'class="shade-' in page and "<figcaption>" in page
            return
    pytest.fail("no edge-detection problem drew its image as a grid")
