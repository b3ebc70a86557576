"""The lexer: how raw query text splits into tokens, with columns for error messages."""

from __future__ import annotations

import pytest

from tracelake.errors import QuerySyntaxError
from tracelake.query.lexer import Kind, Token, tokenize


def kinds(text: str) -> list[tuple[Kind, str]]:
    return [(t.kind, t.text) for t in tokenize(text)][:-1]  # drop EOF


def test_empty_query_is_just_eof_at_column_one() -> None:
    assert tokenize("") == [Token(Kind.EOF, "", 1)]
    assert tokenize("   ")[-1].column == 4


def test_words_and_phrases_carry_1_based_columns() -> None:
    toks = tokenize('error  "disk full"')
    assert [(t.kind, t.text, t.column) for t in toks] == [
        (Kind.WORD, "error", 1),
        (Kind.STRING, "disk full", 8),
        (Kind.EOF, "", 19),
    ]


def test_field_prefix_becomes_field_token_and_value_keeps_colons() -> None:
    assert kinds("timestamp:>=2024-05-01T10:00:00Z") == [
        (Kind.FIELD, "timestamp"),
        (Kind.CMP, ">="),
        (Kind.WORD, "2024-05-01T10:00:00Z"),
    ]


@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_every_comparison_operator_is_one_token(op: str) -> None:
    assert kinds(f"latency_ms:{op}5") == [
        (Kind.FIELD, "latency_ms"),
        (Kind.CMP, op),
        (Kind.WORD, "5"),
    ]


def test_field_names_allow_dots_at_signs_and_dashes() -> None:
    assert kinds("@meta.x-y_z:1")[0] == (Kind.FIELD, "@meta.x-y_z")


def test_word_whose_prefix_is_not_a_field_name_keeps_its_colon() -> None:
    assert kinds("12:30 a..b:c") == [(Kind.WORD, "12:30"), (Kind.WORD, "a..b:c")]


def test_field_value_may_be_a_quoted_phrase() -> None:
    assert kinds('service:"api gw"') == [(Kind.FIELD, "service"), (Kind.STRING, "api gw")]


def test_field_followed_by_paren_starts_a_group() -> None:
    assert kinds("level:(error OR warn)") == [
        (Kind.FIELD, "level"),
        (Kind.LPAREN, "("),
        (Kind.WORD, "error"),
        (Kind.OR, "OR"),
        (Kind.WORD, "warn"),
        (Kind.RPAREN, ")"),
    ]


def test_unescaped_star_and_question_mark_are_wildcards() -> None:
    (tok,) = tokenize("ti?e*")[:-1]
    assert tok.wildcards == frozenset({2, 4})


def test_backslash_escapes_wildcards_colons_and_spaces() -> None:
    (tok,) = tokenize(r"a\*b\:c\ d")[:-1]
    assert (tok.kind, tok.text, tok.wildcards) == (Kind.WORD, "a*b:c d", frozenset())


def test_quoted_phrase_has_no_wildcards_and_unescapes_quotes() -> None:
    (tok,) = tokenize(r'"say \"hi\" *"')[:-1]
    assert (tok.kind, tok.text, tok.wildcards) == (Kind.STRING, 'say "hi" *', frozenset())


def test_boolean_keywords_are_upper_case_only() -> None:
    assert kinds("a AND b OR NOT c and or not") == [
        (Kind.WORD, "a"),
        (Kind.AND, "AND"),
        (Kind.WORD, "b"),
        (Kind.OR, "OR"),
        (Kind.NOT, "NOT"),
        (Kind.WORD, "c"),
        (Kind.WORD, "and"),
        (Kind.WORD, "or"),
        (Kind.WORD, "not"),
    ]


def test_dash_before_a_term_negates_but_a_lone_dash_is_a_word() -> None:
    assert kinds("-debug - x-y") == [
        (Kind.MINUS, "-"),
        (Kind.WORD, "debug"),
        (Kind.WORD, "-"),
        (Kind.WORD, "x-y"),
    ]


def test_field_value_starting_with_dash_is_a_value() -> None:
    assert kinds("temp:<-5") == [(Kind.FIELD, "temp"), (Kind.CMP, "<"), (Kind.WORD, "-5")]


def test_pipe_switches_to_pipe_mode_with_names_and_punctuation() -> None:
    assert kinds("x | stats count(*), p95(a.b) by bin(5m) | sort -count() | limit 10") == [
        (Kind.WORD, "x"),
        (Kind.PIPE, "|"),
        (Kind.WORD, "stats"),
        (Kind.WORD, "count"),
        (Kind.LPAREN, "("),
        (Kind.WORD, "*"),
        (Kind.RPAREN, ")"),
        (Kind.COMMA, ","),
        (Kind.WORD, "p95"),
        (Kind.LPAREN, "("),
        (Kind.WORD, "a.b"),
        (Kind.RPAREN, ")"),
        (Kind.WORD, "by"),
        (Kind.WORD, "bin"),
        (Kind.LPAREN, "("),
        (Kind.WORD, "5m"),
        (Kind.RPAREN, ")"),
        (Kind.PIPE, "|"),
        (Kind.WORD, "sort"),
        (Kind.MINUS, "-"),
        (Kind.WORD, "count"),
        (Kind.LPAREN, "("),
        (Kind.RPAREN, ")"),
        (Kind.PIPE, "|"),
        (Kind.WORD, "limit"),
        (Kind.WORD, "10"),
    ]


def test_quote_inside_a_phrase_does_not_start_pipe_mode() -> None:
    assert kinds('"a | b"') == [(Kind.STRING, "a | b")]


def test_unterminated_string_reports_end_of_query_and_opening_column() -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        tokenize('level:error "oops')
    assert exc.value.column == 18
    assert "opened at column 13" in exc.value.message


def test_unexpected_character_in_pipe_is_a_syntax_error_at_its_column() -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        tokenize("x | fields a;b")
    assert exc.value.column == 13
