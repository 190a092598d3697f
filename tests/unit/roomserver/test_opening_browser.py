"""The opening pages' helpers (web/lib/amounts.js, web/lib/opening.js, run by Node) agree with
the server: a price in figures and capitals as the bid form shows it while it is typed is the
read-out's, a price the form refuses is one the server refuses, and the statement the console
signs is the one the server verifies."""

from __future__ import annotations

import random
from pathlib import Path

from roomserver import signatures
from roomserver.amounts import MAX_FEN, Amount
from roomserver.errors import InvalidAmount
from tests.unit.roomserver.test_amounts import CASES
from tests.unit.roomserver.test_sealing_browser import node

WEB_LIB = Path(__file__).parents[3] / "web" / "lib"

# Reads a list of texts on stdin; answers, for each, [figures, capitals] or {"refused": reason}.
AMOUNTS = f"""
import {{ amountCapitals, amountFigures, parseAmount }} from "{(WEB_LIB / "amounts.js").as_uri()}";
const input = JSON.parse(await new Response(process.stdin).text());
const out = input.texts.map((text) => {{
  try {{
    const fen = parseAmount(text);
    return [amountFigures(fen), amountCapitals(fen)];
  }} catch (err) {{
    return {{ refused: err.message }};
  }}
}});
process.stdout.write(JSON.stringify({{ out }}));
"""
STATEMENT = f"""
import {{ recordStatement }} from "{(WEB_LIB / "opening.js").as_uri()}";
const input = JSON.parse(await new Response(process.stdin).text());
process.stdout.write(JSON.stringify({{ text: recordStatement(...input.args) }}));
"""


def server_says(text: str) -> object:
    try:
        amount = Amount.parse(text)
    except InvalidAmount as exc:
        return {"refused": exc.message}
    return [amount.figures(), amount.capitals()]


def test_prices_are_written_and_refused_alike_in_the_page_and_on_the_server() -> None:
    rng = random.Random(20260618)
    texts = [text for text, _, _ in CASES]
    for _ in range(3000):
        # Amounts of every length, with zeros where the capitals' rules are subtle.
        digits = rng.randint(1, 12)
        whole = "".join(rng.choice("0000123456789") for _ in range(digits)).lstrip("0") or "0"
        texts.append(
            whole + rng.choice(["", "", f".{rng.randint(0, 9)}", f".{rng.randint(0, 99):02d}"])
        )
    texts += [str(Amount(MAX_FEN)), "1000000000000", "1.234", "01", " 12.50 ", "", "1e3", "1,000"]
    texts += ["１２３", "-0", "12\n3", "0.001", "+1", "1_000"]
    answers = node(AMOUNTS, {"texts": texts})["out"]
    for text, answer in zip(texts, answers, strict=True):
        assert answer == server_says(text), text


def test_the_statement_the_console_signs_is_the_one_the_server_verifies() -> None:
    args = ["lot-甲-1", "host-7f3a", "a" * 64, "0" * 64]
    text = node(STATEMENT, {"args": args})["text"]
    assert text.encode("utf-8") == signatures.record_statement(*args)
