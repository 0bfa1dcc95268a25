"""Checks of free text people type (reasons, notes, references): one rule for every form and service."""

import unicodedata

# Control, format (bidi overrides, zero-width joiners), surrogate and private-use characters: they make a note or a
# reference read differently from what is stored.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
LINE_BREAKS = frozenset({"\n", "\r", "\t"})


def has_hidden_characters(text: str, *, multiline: bool = True) -> bool:
    """True when ``text`` holds an invisible or control character; line breaks and tabs are allowed in
    multi-line text."""
    allowed = LINE_BREAKS if multiline else frozenset()
    return any(unicodedata.category(char) in HIDDEN_CATEGORIES and char not in allowed for char in text)
