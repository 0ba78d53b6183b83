from __future__ import annotations

import math

import pytest

from titanic_lab import formulas as fx
from titanic_lab.ops import ACTIVATIONS, LOSSES, get_activation, get_loss, loss_of_formula


@pytest.mark.parametrize("col, letters", [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")])
def test_col_letter(col, letters):
    assert fx.col_letter(col) == letters


def test_cells_and_areas():
    assert fx.cell(0, 4) == "E1"
    assert fx.cell(0, 4, absolute=True) == "$E$1"
    assert fx.area(3, 6, 714, 15) == "G4:P715"
    assert fx.area(3, 17, 3, 26, absolute=True) == "$R$4:$AA$4"


def test_structured_references_match_the_lesson():
    assert fx.this_row("Table13", "Age") == "Table13[[#This Row],[Age]]"
    assert fx.this_row_span("Table13", "SibSp", "Ones") == "Table13[[#This Row],[SibSp]:[Ones]]"
    assert fx.column_max(fx.table_column("Table1342", "Age")) == "MAX(Table1342[Age])"
    assert fx.this_row("T", "a[b]#'") == "T[[#This Row],[a'[b']'#'']]"  # special characters escaped


def test_table_refs_structured_or_portable():
    columns = {"Survived": 0, "Age": 4, "SibSp": 6, "Ones": 15}
    structured = fx.TableRefs("Data", columns, 3, 714)
    portable = fx.TableRefs("Data", columns, 3, 714, portable=True)
    assert structured.this_row("Age", 9) == "Data[[#This Row],[Age]]"
    assert portable.this_row("Age", 9) == "$E10"
    assert structured.this_row_span("SibSp", "Ones", 3) == "Data[[#This Row],[SibSp]:[Ones]]"
    assert portable.this_row_span("SibSp", "Ones", 3) == "$G4:$P4"
    assert structured.column("Age") == "Data[Age]" and portable.column("Age") == "$E$4:$E$715"
    build = lambda row: fx.filled(portable.this_row("Age", row), "$E$2")  # noqa: E731
    assert [portable.per_row(build)(r) for r in (3, 4)] == ["IF(ISBLANK($E4),$E$2,$E4)", "IF(ISBLANK($E5),$E$2,$E5)"]
    calls = []
    one_text = structured.per_row(lambda row: calls.append(row) or structured.this_row("Age", row))
    assert [one_text(r) for r in (3, 4, 5)] == ["Data[[#This Row],[Age]]"] * 3 and calls == [3]  # built once


def test_feature_formulas():
    age = fx.this_row("T", "Age")
    assert fx.scaled(age, None, "$E$1") == "T[[#This Row],[Age]]/$E$1"
    assert fx.log1p("F4", 10) == "LOG10(F4+1)"
    assert fx.log1p("F4", math.e) == "LN(F4+1)"
    assert fx.log1p("F4", 2) == "LN(F4+1)/LN(2)"
    assert fx.indicator("C4", 1) == "IF(C4=1,1,0)"
    assert fx.indicator("B4", "S") == 'IF(B4="S",1,0)'
    assert fx.indicator("B4", 'say "hi"') == 'IF(B4="say ""hi""",1,0)'
    assert fx.filled("E4", "$E$2") == "IF(ISBLANK(E4),$E$2,E4)"
    assert fx.filled("E4", None) == "E4"
    assert fx.scaled("E4", "$E$2", "$E$1") == "(E4-$E$2)/$E$1"
    assert fx.scaled("G4+H4+1", None, "$Q$1") == "(G4+H4+1)/$Q$1"
    assert fx.scaled("LOG10(F4/SUMPRODUCT((T[Ticket]=T[[#This Row],[Ticket]])*1)+1)", None, "$I$1").startswith("LOG10(")


def test_model_formulas():
    assert fx.sumproduct("Table13[[#This Row],[SibSp]:[Ones]]", "$R$4:$AA$4") == "SUMPRODUCT(Table13[[#This Row],[SibSp]:[Ones]],$R$4:$AA$4)"
    assert fx.relu("AC4") == "IF(AC4<0,0,AC4)"
    assert fx.mmult("G4:P715", "S4:T13") == "MMULT(G4:P715,S4:T13)"
    assert fx.sigmoid("AC4") == "1/(1+EXP(-AC4))"
    assert fx.average("AD4:AD715") == "AVERAGE(AD4:AD715)"
    assert fx.average_if("AF4:AF715", 1, "AD4:AD715") == "AVERAGEIF(AF4:AF715,1,AD4:AD715)"
    assert fx.max_abs_diff("A1:A3", "B1:B3") == "MAX(ABS(A1:A3-B1:B3))"


def test_loss_formulas():
    assert get_loss("mse").formula("AG4", "S") == "(AG4-S)^2"
    assert get_loss("mae").formula("AG4", "S") == "ABS(AG4-S)"
    assert get_loss("bce").formula("p", "y") == "-(y*LN(MAX(MIN(p,1-1E-07),1E-07))+(1-y)*LN(1-MAX(MIN(p,1-1E-07),1E-07)))"
    with pytest.raises(ValueError):
        get_loss("hinge")


def test_a_loss_is_recognised_by_its_formula():
    for name, loss in LOSSES.items():
        assert loss_of_formula(loss.formula("AG4", "Data[[#This Row],[Survived]]")) == name
        assert loss_of_formula("=" + loss.formula("ag4", "$a4").lower()) == name  # as typed by hand
    assert loss_of_formula("") == "mse"  # no formula: the lesson's loss


def test_activation_formulas():
    expected = {"relu": "IF(X4<0,0,X4)", "leaky_relu": "IF(X4<0,0.01*X4,X4)", "elu": "IF(X4<0,EXP(X4)-1,X4)",
                "tanh": "TANH(X4)", "sigmoid": "1/(1+EXP(-X4))"}
    assert {name: a.formula("X4") for name, a in ACTIVATIONS.items()} == expected
    assert [a.header for a in ACTIVATIONS.values()] == ["ReLU", "LReLU", "ELU", "Tanh", "Sigm"]
    with pytest.raises(ValueError):
        get_activation("swish")


def test_literals():
    assert fx.literal(3) == "3" and fx.literal(3.0) == "3" and fx.literal(0.25) == "0.25"
    assert fx.literal("S") == '"S"'
    with pytest.raises(ValueError):
        fx.literal(float("nan"))


def test_extended_feature_formulas():
    assert fx.title("B4") == 'IFERROR(MID(B4,FIND(", ",B4)+2,FIND(".",B4,FIND(", ",B4))-FIND(", ",B4)-2),"")'
    assert fx.one_of("t", ["Miss", "Ms"]) == 'IF(OR(t="Miss",t="Ms"),1,0)'
    assert fx.count_equal("T[Ticket]", "K4") == "SUMPRODUCT((T[Ticket]=K4)*1)"


_M = "\x00"  # where a column's template puts the A1 row number (titanic_lab.workbook.columns)


@pytest.mark.parametrize("formula, shared", [
    (f"IF(CE{_M}&lt;0,0,CE{_M})", True),  # escaped as in the cell: relative rows move down
    (f"SUMPRODUCT($U{_M}:$AX{_M},$AZ$4:$CC$4)", True),  # column-absolute, row-relative; an absolute block
    (f'IF($Q{_M}="level_1",1,0)', True),  # a string literal without the row
    (f"LOG10($E{_M}+1)/$Y$1", True),  # LOG10( is a function, not the cell LOG10
    ("AVERAGE($CK$4:$CK$5003)", True),  # the same text in every row, absolute references only
    ("AVERAGE(CK4:CK5003)", False),  # the same text in every row, but moving it down would move its references
    (f"$A${_M}*2", False),  # the row in an absolute reference: moving would not change it
    (f"ROW()-{_M}", False),  # the row as a number
    (f'"row {_M}"&A{_M}', False),  # the row in a string literal
    (f"Data[[#This Row],[x]]*A{_M}", False),  # structured references: Excel refuses them in a shared formula
    (f"Other!A{_M}", False),  # another sheet: Excel refuses relative references to it in a shared formula
    (f'IF($Q{_M}="say ""A{_M}""",1,0)', False),  # the row in a literal with a quote in it
    (f'IF($Q{_M}="say ""A5""",1,0)', True),  # a reference's text in a literal: not a reference
    (f"a{_M}*2", False),  # small letters: not written here, never shared
    (f"SUM($A$4:$A$9)+ZZZ5*A{_M}", True),  # ZZZ5 is past the last column (XFD): a name, not moved
    (f"SUM($4:$5)*A{_M}", False),  # a range of whole rows: never shared
    (f"1E5*A{_M}", True),  # an exponent, not the cell E5
    (f"A{_M}*B4", False),  # a relative reference to a fixed row
    (f"ÉA{_M}*2", False),  # a name (letters beyond ASCII join the reference's): Excel does not move it
    (f"A{_M}中", False),
    (f"A{_M}١", False),  # an Arabic-Indic digit: a name too
    (f"\\A{_M}", False),  # a backslash or a question mark may be part of a name
    (f"x?A{_M}", False),
    (f'IF($Q{_M}="Größe",1,0)', True),  # beyond ASCII in a string literal: a literal
])
def test_a_column_formula_is_shared_only_when_moving_it_down_gives_each_row(formula, shared):
    from titanic_lab.workbook.columns import shares

    assert shares(formula.split(_M)) is shared


def _translator_shares(template: list[str]) -> bool:
    """The rule as openpyxl's formula translator gives it: the first row's text, moved down a row, is the next row's."""
    from openpyxl.formula.translate import Translator

    from titanic_lab.workbook.columns import unescape

    text = "".join(template)
    if "[" in text or "!" in text:
        return False
    first, second = (unescape(str(row).join(template)) for row in (4, 5))
    try:
        moved = Translator("=" + first, origin="A4").translate_formula("A5")
    except Exception:  # a formula the translator cannot read
        return False
    return moved == "=" + second


def test_the_shared_formula_rule_agrees_with_openpyxls_translator_on_random_formulas():
    """Formulas made of references (relative or absolute in row and column, on the row or a fixed one), function
    names with digits, numbers with exponents, string literals (holding the row, a reference's text, quotes) and
    operators: wherever the rule shares a formula, the translator moves it to the next row's text; and they agree
    on every formula without a range of whole rows (which the rule never shares)."""
    import random

    from titanic_lab.workbook.columns import shares

    rng = random.Random(0)

    def reference() -> str:
        col = rng.choice(["A", "Q", "CE", "AX", "XFD"])
        row = rng.choice([_M, _M, "4", "715"])
        return rng.choice(["", "$"]) + col + rng.choice(["", "$"]) + row

    def operand() -> str:
        kind = rng.randrange(7)
        if kind <= 2:
            return reference()
        if kind == 3:
            return reference() + ":" + reference()
        if kind == 4:
            return rng.choice(["LOG10(", "ATAN2(", "IF(", "SUMPRODUCT("]) + reference() + ")"
        if kind == 5:
            return rng.choice(["1E5", "2.5", "0", "3"])
        return '"' + rng.choice(["level_1", "A5", 'say ""hi""', "row " + _M, ""]) + '"'

    agreed = shared = 0
    for _ in range(3000):
        formula = rng.choice(["+", "-", "*", "&", "&lt;", "="]).join(operand() for _ in range(rng.randint(1, 4)))
        template = formula.split(_M)
        mine, theirs = shares(template), _translator_shares(template)
        assert not mine or theirs, formula
        assert mine == theirs, formula
        agreed += 1
        shared += mine
    assert 300 < shared < agreed - 300  # both kinds were drawn


def test_the_shared_formula_rule_agrees_with_openpyxls_translator_on_every_column_written(tmp_path, bundled, monkeypatch):
    """Every column formula the writer builds for the lesson's workbook (with the backprop and gradient descent
    sheets), the same with plain A1 references, and a table with dates and text levels."""
    from titanic_lab.config import RunConfig
    from titanic_lab.runs import train_run
    from titanic_lab.workbook import columns, write_workbook

    seen: list[list[str]] = []
    rule = columns.shares
    monkeypatch.setattr(columns, "shares", lambda template: seen.append(template) or rule(template))
    lesson = tmp_path / "lesson.csv"
    bundled.head(60).to_csv(lesson, index=False)
    dated = tmp_path / "dated.csv"
    dated.write_text("when,kind,size,y\n" + "".join(f"2024-01-{d:02d},{'abc'[d % 3]},{d * 1.5},{d % 2}\n" for d in range(1, 29)))
    for data in ({"data": str(lesson)}, {"data": str(dated), "target": "y"}):
        for portable in (False, True):
            config = RunConfig(**data, epochs=2, restarts=1, lr=0.01, portable=portable, backprop_sheet=True, gd_sheet=True)
            write_workbook(train_run(config), tmp_path / "book.xlsx")
    assert len(seen) > 100 and any(rule(t) for t in seen) and not all(rule(t) for t in seen)
    for template in seen:
        assert rule(template) == _translator_shares(template), _M.join(template)
