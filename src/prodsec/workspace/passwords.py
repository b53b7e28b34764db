"""The password policy, per NIST SP 800-63B-4 §3.1.1.2 (password verifiers): pure functions.

A password is the only factor prodsec has, so it must be at least 15 characters (code points,
after NFKC normalisation), may be up to 1 024, and may hold any printable Unicode including
spaces — no composition rules ("one digit, one capital"), which only make passwords
predictable. What is refused instead is what a guesser tries first:

* a password on the list of commonly used passwords shipped in ``data/`` (19 640 entries from
  breach corpora, see ``data/common-passwords.NOTICE``), compared case-insensitively, also
  after stripping digits, spaces and punctuation ("Password 2024!!" is "password") and after
  undoing the usual substitutions ("P@ssw0rd12345678" too);
* repetition and runs ("aaaaaaaaaaaaaaaa", "abcabcabcabcabc", "123456789012345");
* keyboard walks: keys next to each other on a QWERTY, QWERTZ or AZERTY row or column
  ("qwertyuiopasdfg", "1qaz2wsx3edc4rfv"), which the breach lists hold only in their
  shortest forms;
* well-known phrases (``PHRASES``: "correct horse battery staple", pangrams, lorem ipsum),
  which, like context words, do not count towards the length ("correct horse battery staple
  zebra" is short);
* context words — the e-mail address and its parts, the user's name, the organisation and
  "prodsec" — which do not count towards the length ("prodsec-admin@acme" is short).

The policy applies when a password is set or changed; an existing user whose password predates
it still signs in (and is asked for a compliant one only when changing it).
"""

from __future__ import annotations

import gzip
import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

MIN_LENGTH = 15
MAX_LENGTH = 1024
SERVICE_WORDS = ("prodsec",)
_SEPARATORS = re.compile(r"[^\w]+|_")
_REPEATED = re.compile(r"(.+?)\1+", re.DOTALL)
_LEET_SYMBOLS = str.maketrans("@$!", "asi")
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LEET_DIGIT = re.compile(r"(?<=[^\W\d_])[013457](?=[^\W\d_])")
#: Phrases everyone has seen as an example of a password or of text, letters only. The first
#: is the example in xkcd 936 ("Password Strength"); a guesser tries it before any word list.
PHRASES = ("correcthorsebatterystaple", "thequickbrownfoxjumpsoverthelazydog",
           "loremipsumdolorsitamet", "tobeornottobethatisthequestion",
           "maytheforcebewithyou", "ilovemyself", "letmeinplease", "iloveyouforever")
#: Keyboard rows (QWERTY, QWERTZ, AZERTY, digits, shifted digits) and QWERTY columns.
_KEY_LINES = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "yxcvbnm",
              "azertyuiop", "qsdfghjklm", "wxcvbn", "!@#$%^&*()", "1qaz", "2wsx", "3edc",
              "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/")
_NEXT_KEYS = frozenset((a, b) for line in _KEY_LINES for a, b in itertools.pairwise(line))
_NEXT_KEYS = _NEXT_KEYS | {(b, a) for a, b in _NEXT_KEYS}


def normalise(password: str) -> str:
    """NFKC, so the same password typed on two keyboards is the same string (§3.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (lower-case), read once."""
    data = resources.files("prodsec.workspace").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def context_words(email: str = "", name: str = "", organisation: str = "") -> list[str]:
    """Words a guesser who knows whose account it is tries first: the e-mail address, its
    local part and domain and their pieces, the name's words, the organisation, "prodsec"."""
    email = email.strip().casefold()
    local, _, domain = email.partition("@")
    words = {email, local, domain, organisation.casefold().strip(), *SERVICE_WORDS}
    for text in (local, domain.rsplit(".", 1)[0], name.casefold(), organisation.casefold()):
        words.update(_SEPARATORS.split(text))
    return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def problem(password: str, context: Iterable[str] = ()) -> str | None:
    """Why the (normalised) password is refused, or None; the message says what to do."""
    for char in password:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            return "must contain only printable characters (spaces are fine; no control characters)"
    if len(password) < MIN_LENGTH:
        return (f"must be at least {MIN_LENGTH} characters (it has {len(password)}); "
                "a few unrelated words make a good one")
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    folded = password.casefold()
    common = common_passwords()
    if folded in common or folded.replace(" ", "") in common or \
            _skeleton(folded) in common or _skeleton(_unleet(folded)) in common:
        return "is on a list of commonly used passwords; choose another"
    if _predictable(folded.replace(" ", "")):
        return "is a repetition or a run of characters; choose another"
    if _keyboard_walk(folded.replace(" ", "")):
        return "is a walk along the keyboard (keys next to each other); choose another"
    skeleton = _skeleton(folded)
    for phrase in PHRASES:
        if phrase in skeleton and len(skeleton.replace(phrase, "")) < MIN_LENGTH:
            return ("is mostly a well-known phrase; without it it must still be "
                    f"{MIN_LENGTH} letters")
    rest = folded
    for word in context:
        rest = rest.replace(word, "")
    if len(rest) < MIN_LENGTH:
        return (f"is mostly your e-mail address, name, organisation or 'prodsec'; without them "
                f"it must still be {MIN_LENGTH} characters")
    return None


def _keyboard_walk(text: str, run: int = 4) -> bool:
    """All but at most two characters lie in runs of ``run`` or more keys, each next to the
    one before on a keyboard row or column ("qwertyuiop" + "asdfg")."""
    covered, length = 0, 1
    for a, b in itertools.pairwise(text):
        if (a, b) in _NEXT_KEYS:
            length += 1
            continue
        covered += length if length >= run else 0
        length = 1
    covered += length if length >= run else 0
    return covered >= len(text) - 2


def _skeleton(text: str) -> str:
    """The letters alone: "password 2024!!" is "password"."""
    return "".join(c for c in text if c.isalpha())


def _unleet(text: str) -> str:
    """Undo the usual substitutions: "p@ssw0rd" is "password" (digits only inside words)."""
    text = text.translate(_LEET_SYMBOLS)
    return _LEET_DIGIT.sub(lambda m: _LEET_DIGITS[m.group()], text)


def _predictable(text: str) -> bool:
    """One unit repeated, or a run of consecutive characters (up or down)."""
    if len(set(text)) <= 2 or _REPEATED.fullmatch(text):
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return steps <= {1, -9} or steps <= {-1, 9}  # 1234567890…, 9876543210…
