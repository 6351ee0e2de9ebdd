"""What a class notices: our own error pages, a skip link, option letters as read back, signed
numbers in MathML, the LeNet table in its prompts, defined symbols."""

from __future__ import annotations

from grader.bank import load_bank
from grader.variants import generate
from web.render import math_to_mathml, render_prompt


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_error_pages_say_our_own_sentences(client, auth):
    page = _text(client.get("/no/such/page"))
    assert "There is no such page here" in page
    assert "requested URL was not found" not in page
    auth.login()
    response = client.get("/auth/logout")  # a POST-only page
    assert response.status_code == 405 and "buttons and links" in _text(response)
    assert "The method is not allowed" not in _text(response)


def test_every_page_has_a_skip_link_to_the_content(client):
    page = _text(client.get("/auth/login"))
    assert '<a class="skip-link" href="#main">' in page and '<main id="main"' in page


def test_options_show_the_letters_the_read_back_uses(app, client, auth):
    auth.login()
    bank = app.extensions["stride_bank"]
    pid = next(p.id for p in sorted(bank.problems.values(), key=lambda p: p.id)
               if p.answer_type == "multiselect")
    page = _text(client.get(f"/sets/open-set/{pid}"))
    assert '<span class="letter">(a)</span>' in page and '<span class="letter">(c)</span>' in page


def test_a_minus_sign_belongs_to_its_number():
    assert "<mn>&#x02212;2</mn>" in str(math_to_mathml("[3, -2, 5]"))
    assert "<mn>&#x02212;1</mn>" in str(math_to_mathml(r"\begin{bmatrix} -1 & 2 \end{bmatrix}"))
    subtraction = str(math_to_mathml("x - 2"))
    assert "<mo>&#x02212;</mo><mn>2</mn>" in subtraction  # a real subtraction keeps its spacing


def test_the_lenet_prompts_show_the_table_they_refer_to():
    bank = load_bank()
    for pid in ("lenet-activation-shape", "lenet-activation-size", "lenet-params"):
        prompt = generate(bank.problems[pid], 5).prompt
        assert "row of the table" in prompt
        html = str(render_prompt(prompt))
        assert "<mtable" in html and "<mtext>POOL2</mtext>" in html and "<code" not in html


def test_adaptive_pooling_prompts_define_i_and_o():
    bank = load_bank()
    for pid in ("adaptive-stride", "adaptive-kernel", "adaptive-avg-vector"):
        variant = generate(bank.problems[pid], 1)
        assert f"i = {variant.params['i']}" in variant.prompt
        assert f"o = {variant.params['o']}" in variant.prompt
