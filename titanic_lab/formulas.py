"""Small pure functions that build Excel formula strings (tested as strings).

Rows and columns are 0-based, as in XlsxWriter; the strings are what Excel shows, without the
leading ``=`` (the writer adds it). Only functions that need no ``_xlfn.`` prefix are used
(IF, ISBLANK, MAX, MIN, ABS, AVERAGE, AVERAGEIF, SUMPRODUCT, MMULT, LOG10, LN, EXP, SQRT, TANH).
Each activation's and loss's formula sits in its record, in :mod:`titanic_lab.ops`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


def col_letter(col: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    if col < 0:
        raise ValueError(f"column index must be >= 0, got {col}")
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell(row: int, col: int, absolute: bool = False) -> str:
    """``cell(0, 4)`` -> ``E1``; absolute -> ``$E$1``."""
    dollar = "$" if absolute else ""
    return f"{dollar}{col_letter(col)}{dollar}{row + 1}"


def column_fixed(row: int, col: int) -> str:
    """``column_fixed(3, 20)`` -> ``$U4``: the column fixed, the row moving down a filled column."""
    return f"${col_letter(col)}{row + 1}"


def area(first_row: int, first_col: int, last_row: int, last_col: int, absolute: bool = False) -> str:
    """``area(3, 6, 714, 15)`` -> ``G4:P715``."""
    return f"{cell(first_row, first_col, absolute)}:{cell(last_row, last_col, absolute)}"


def _column_name(name: str) -> str:
    # Inside structured references, [ ] # ' must be escaped with a leading apostrophe.
    return "".join("'" + ch if ch in "[]#'" else ch for ch in name)


def this_row(table: str, column: str) -> str:
    """``Titanic[[#This Row],[Age]]``: the current row's cell of a table column."""
    return f"{table}[[#This Row],[{_column_name(column)}]]"


def this_row_span(table: str, first: str, last: str) -> str:
    """``Titanic[[#This Row],[SibSp]:[Ones]]``: the current row across adjacent columns."""
    return f"{table}[[#This Row],[{_column_name(first)}]:[{_column_name(last)}]]"


def table_column(table: str, column: str) -> str:
    """``Titanic[Age]``: a whole table column."""
    return f"{table}[{_column_name(column)}]"


@dataclass(frozen=True)
class TableRefs:
    """References into a data table, structured or plain: the one place the two forms are chosen.

    Structured (the lesson's): ``Data[[#This Row],[Age]]``, ``Data[Age]``; Excel, LibreOffice
    and IronCalc compute them. Portable: ``$E4``, ``$E$4:$E$715``, which Gnumeric and Google
    Sheets compute too (they do not read Excel tables).

    Attributes
    ----------
    name : str
        The table's name.
    columns : dict of str to int
        Header -> sheet column (0-based).
    first_row, last_row : int
        The table's first and last data rows (0-based).
    portable : bool
        Plain A1 references instead of structured ones.
    """

    name: str
    columns: dict[str, int]
    first_row: int
    last_row: int
    portable: bool = False

    def this_row(self, column: str, row: int) -> str:
        """Row ``row``'s cell of ``column``: ``Data[[#This Row],[Age]]`` or ``$E4``."""
        if not self.portable:
            return this_row(self.name, column)
        return column_fixed(row, self.columns[column])

    def this_row_span(self, first: str, last: str, row: int) -> str:
        """Row ``row`` from ``first`` to ``last``: ``Data[[#This Row],[SibSp]:[Ones]]`` or ``$G4:$P4``."""
        if not self.portable:
            return this_row_span(self.name, first, last)
        return f"{self.this_row(first, row)}:{self.this_row(last, row)}"

    def column(self, column: str) -> str:
        """A whole data column: ``Data[Age]`` or ``$E$4:$E$715``."""
        if not self.portable:
            return table_column(self.name, column)
        col = self.columns[column]
        return area(self.first_row, col, self.last_row, col, absolute=True)

    def per_row(self, build: Callable[[int], str]) -> Callable[[int], str]:
        """Row -> formula: ``build`` itself when references change with the row (portable), else
        one text for every row (a structured reference names "this row"), built once."""
        if self.portable:
            return build
        text = build(self.first_row)
        return lambda row: text


def text(value: str) -> str:
    """A string literal: ``S`` -> ``"S"``, quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A number or string as a formula literal."""
    if isinstance(value, str):
        return text(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"cannot write {value!r} into a formula")
    return repr(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def filled(ref: str, fill_ref: str | None) -> str:
    """``ref``, or the fill value where the cell is blank: ``IF(ISBLANK(ref),fill,ref)``."""
    return ref if fill_ref is None else f"IF(ISBLANK({ref}),{fill_ref},{ref})"


def log1p(ref: str, base: float) -> str:
    """``LOG10(ref+1)`` (the workbook's), ``LN(ref+1)`` (the notebook's) or another base."""
    if base == 10:
        return f"LOG10({ref}+1)"
    if base == math.e:
        return f"LN({ref}+1)"
    return f"LN({ref}+1)/LN({literal(base)})"


def indicator(ref: str, value: object) -> str:
    """A dummy or binary column: ``IF(ref="S",1,0)``."""
    return f"IF({ref}={literal(value)},1,0)"


def operand(expr: str) -> str:
    """``expr`` in parentheses when an operator outside brackets would bind wrongly (``a+b`` -> ``(a+b)``)."""
    depth = 0
    for ch in expr:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-*/^&=<>":
            return f"({expr})"
    return expr


def scaled(expr: str, offset_ref: str | None, divisor_ref: str) -> str:
    """Divide by the max (``expr/$E$1``) or z-score (``(expr-$E$1)/$E$2``)."""
    if offset_ref is None:
        return f"{operand(expr)}/{divisor_ref}"
    return f"({expr}-{offset_ref})/{divisor_ref}"


def sumproduct(a: str, b: str) -> str:
    return f"SUMPRODUCT({a},{b})"


def mmult(a: str, b: str) -> str:
    return f"MMULT({a},{b})"


def relu(ref: str) -> str:
    """The lesson's ReLU: ``IF(x<0,0,x)``."""
    return f"IF({ref}<0,0,{ref})"


def sigmoid(ref: str) -> str:
    return f"1/(1+EXP(-{ref}))"


def batchnorm(ref: str, mean: str, var: str, gamma: str, beta: str, eps: float = 1e-5) -> str:
    """Batch norm at inference, an affine map with the running statistics:
    ``(x-mean)/SQRT(var+eps)*gamma+beta``."""
    return f"({ref}-{mean})/SQRT({var}+{eps:.0E})*{gamma}+{beta}"


def times(ref: str, factor_ref: str, offset_ref: str | None = None) -> str:
    """``ref*factor`` or ``ref*factor+offset``: a model's output in the target's units (``B4*$X$2+$Y$2``)."""
    return f"{ref}*{factor_ref}" + (f"+{offset_ref}" if offset_ref else "")


def divided(ref: str, divisor_ref: str, offset_ref: str | None = None) -> str:
    """``(ref/divisor)`` or ``((ref-offset)/divisor)``: the target as a regression model learns it, in
    parentheses so that any loss formula can take it as one term."""
    return f"({ref}/{divisor_ref})" if not offset_ref else f"(({ref}-{offset_ref})/{divisor_ref})"


def average(rng: str) -> str:
    return f"AVERAGE({rng})"


def average_if(criteria_rng: str, criterion: object, rng: str) -> str:
    return f"AVERAGEIF({criteria_rng},{literal(criterion)},{rng})"


def max_abs_diff(a: str, b: str) -> str:
    """``MAX(ABS(a-b))``; an array formula over two equal ranges."""
    return f"MAX(ABS({a}-{b}))"


def column_max(column_ref: str) -> str:
    """``MAX(Data[Age])``: the largest value of a column."""
    return f"MAX({column_ref})"


def sheet_area(sheet: str, rng: str) -> str:
    """``linear!$G$4:$P$715``; a sheet name other than letters, digits and _ is quoted."""
    plain = sheet.replace("_", "").isalnum() and not sheet[0].isdigit()
    name = sheet if plain else "'" + sheet.replace("'", "''") + "'"
    return f"{name}!{rng}"


def gd_step(param: str, lr: str, grad: str) -> str:
    """The update: ``param - lr * grad``."""
    return f"{param}-{lr}*{grad}"


def title(name_ref: str) -> str:
    """The title in a name, as the text between ``", "`` and the next ``"."``; "" when absent."""
    comma = f'FIND(", ",{name_ref})'
    return f'IFERROR(MID({name_ref},{comma}+2,FIND(".",{name_ref},{comma})-{comma}-2),"")'


def one_of(expr: str, values: list[str]) -> str:
    """1 where ``expr`` equals any of ``values``: ``IF(OR(x="Miss",x="Ms"),1,0)``."""
    return f"IF(OR({','.join(f'{expr}={literal(v)}' for v in values)}),1,0)"


def count_equal(column: str, ref: str) -> str:
    """How many cells of ``column`` equal ``ref`` (exact, no COUNTIF wildcards): ``SUMPRODUCT((col=ref)*1)``."""
    return f"SUMPRODUCT(({column}={ref})*1)"


def surname(name_ref: str) -> str:
    """The text before the first comma of a name (all of it without one): ``LEFT(n,FIND(",",n&",")-1)``."""
    return f'LEFT({name_ref},FIND(",",{name_ref}&",")-1)'


def others_in_group(same: str, weights: str, own: str) -> str:
    """The weighted count of the *other* rows of a group: ``(SUMPRODUCT(same*weights)-own)``.

    ``same`` is the array of the group test (``(Table[Ticket]=ticket)``); ``own`` is the row's
    own weight, taken away so that a row never counts itself (nor sees its own label).
    """
    return f"(SUMPRODUCT({same}*{weights})-{own})"


def woman_child_group(kind: str, same_ticket: str, same_surname: str, wc: str, wc_column: str, survived: str,
                      survived_column: str) -> str:
    """``wcg_rate`` or ``wcg_died`` of a row: for a woman or boy (``wc`` = 1), the survival rate of
    the other women and boys on the ticket, else of the surname (``wcg_died``: 1 where it is 0);
    0 for everyone else and where there are none."""
    counts = {by: (others_in_group(same, wc_column, wc), others_in_group(same, f"{wc_column}*{survived_column}", f"{wc}*{survived}"))
              for by, same in (("ticket", same_ticket), ("surname", same_surname))}
    (n_t, s_t), (n_s, s_s) = counts["ticket"], counts["surname"]
    rate = f"IF({n_t}>0,{s_t}/{n_t},IF({n_s}>0,{s_s}/{n_s},0))"
    value = rate if kind == "wcg_rate" else f"IF({rate}=0,1,0)"
    return f"IF(AND({wc}=1,OR({n_t}>0,{n_s}>0)),{value},0)"
