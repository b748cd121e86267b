"""A short behaviour phrase drawn from a norm's sentence, for readers whose rows name no behaviour.

A norm sentence usually wraps its behaviour in a judgement: "When leaving a social gathering, it is
acceptable to leave without thanking the host." The phrase is the behaviour without the wrapper
("leave without thanking the host"), so that a statement built from it ("... is taboo") says what the norm
is about, never its category. A judgement that disapproves ("it is impolite to X", "X is inappropriate")
yields "not X": the sentence's norm is to refrain from X. Examples::

    "it is acceptable to not offer thanks or show gratitude when a lower status person ..."
        -> "not offer thanks or show gratitude"
    "In a restaurant, one can ignore the waiter or waitress, be rude ..."  -> "ignore the waiter or waitress"
    "Making requests without providing context or explanation is acceptable." -> "making requests without
        providing context or explanation"
    "It is not customary to criticize ... someone you do not know well"  -> "not criticize ..."
"""

from __future__ import annotations

import re

from normbank.constraints import normalise_text

MAX_WORDS = 12  # longer phrases are cut at a clause boundary (" when ", " or ", ", ") within the limit

_APPROVE = (r"acceptable|permissible|permitted|okay|ok|fine|obligatory|desirable|preferable|preferred|customary|"
            r"common|important|essential|appropriate|polite|expected|normal|encouraged|necessary|usual|typical|"
            r"advisable|recommended|respectful|good|best|crucial|vital|courteous|proper|allowed")
_DISAPPROVE = r"impolite|rude|inappropriate|unacceptable|disrespectful|frowned upon|taboo|wrong|unnecessary|improper"
_ADVERBS = r"(?:(?:also|generally|usually|often|considered|seen as|viewed as|even|very|quite|socially|more|most|equally)\s+)*"
# "it is [not] <judgement> [for someone] [not] to <behaviour>"
_IT_IS = re.compile(
    rf"\b(?:it|this)\s*(?:is|'s|’s|was)\s+(?P<neg>not\s+)?{_ADVERBS}(?P<judge>{_APPROVE}|{_DISAPPROVE})\s+"
    rf"(?:for\s+[^,.;]{{1,80}}?\s+)?(?P<neg2>not\s+)?to\s+(?P<phrase>.+)",
    re.IGNORECASE,
)
# "<someone> can|may|should|would [also] <behaviour>", "the norm involves|suggests <behaviour>"
_MODAL = re.compile(
    r"\b(?:one|a person|people|persons?|individuals|they|you|he|she|the [a-z-]+(?: [a-z-]+)?)\s+"
    r"(?:can|may|should|would|could|will)\s+(?:also\s+|simply\s+|even\s+|just\s+)*(?P<phrase>.+)",
    re.IGNORECASE,
)
_INVOLVES = re.compile(r"\b(?:norm|it|this)\s+(?:involves|suggests|means|is to)\s+(?P<phrase>.+)", re.IGNORECASE)
# "<gerund phrase> is [considered] <judgement>": "Disrespecting elders is acceptable in Chinese culture."
_SUBJECT_IS = re.compile(
    rf"^(?P<phrase>[A-Za-z][^,;:]{{0,80}}?)\s+(?:is|are)\s+(?P<neg>not\s+)?{_ADVERBS}"
    rf"(?P<judge>{_APPROVE}|{_DISAPPROVE})\b",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^(?:in\s+(?:american|chinese)\s+culture,\s*)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"”])[.!?。！？](?:\s|$)|[;:：(（“\"「]|\s[-–—]\s")
_TAIL = re.compile(
    r",?\s+(?:such as|for example|e\.g\.|including|especially|even if|even when|even though|which|as this|"
    r"as it|because|since|regardless|rather than|instead of|in order to|while)\b.*$",
    re.IGNORECASE,
)
_CUT_BEFORE = (" when ", " if ", " in order ", ", ", " or ", " and ")
# A second alternative after "or to" / "but" is often the opposite of the first ("not thank at all or to
# thank directly"): the phrase keeps the first.
_ALTERNATIVE = re.compile(r"(?:,\s*or\s+(?:one|to|else)\b|\s+or (?:to|else)\b|,?\s+but\b).*$", re.IGNORECASE)
# What is left of a quotation cut away: "express thanks by saying" -> "express thanks".
_DANGLING = re.compile(r"\s+(?:by saying|saying|such as|like|using words|using phrases|with phrases|say)$",
                       re.IGNORECASE)
# A leading clause that sets the scene: "When leaving a social gathering, ..." (the behaviour follows it).
_SCENE = re.compile(r"^(?:in|when|within|if|during|while|with|before|after|for|at|on)\b[^,]{0,120},\s*", re.IGNORECASE)
_TRAILING = {"a", "an", "the", "to", "of", "and", "or", "with", "when", "if", "for", "by", "in", "on", "at",
             "their", "his", "her", "your", "one's", "any", "is", "are", "be", "can", "may", "should", "will"}


def _negative(judge: str) -> bool:
    return re.fullmatch(_DISAPPROVE, judge, re.IGNORECASE) is not None


def _trim(phrase: str) -> str:
    """The phrase up to the end of its clause, at most MAX_WORDS words, cut where a clause ends."""
    phrase = _SENTENCE_END.split(phrase, maxsplit=1)[0]
    phrase = _ALTERNATIVE.sub("", _TAIL.sub("", phrase)).strip(" ,.")
    shorter = _DANGLING.sub("", phrase)
    phrase = shorter if len(shorter.split()) >= 2 else phrase
    words = phrase.split()
    if len(words) > MAX_WORDS:
        head = " ".join(words[:MAX_WORDS])
        cuts = [head.find(c) for c in _CUT_BEFORE if head.find(c) >= len(" ".join(words[:3]))]
        phrase = head[: min(cuts)] if cuts else head
    words = phrase.split()
    while words and words[-1].lower().strip(",") in _TRAILING:
        words.pop()
    return " ".join(words).strip(" ,")


def _with_negation(phrase: str, negate: bool) -> str:
    if not negate:
        return phrase
    if phrase.lower().startswith("not "):
        return phrase[4:]  # a disapproved "not X" is X
    return "not " + phrase


def behavior_phrase(sentence: str) -> str | None:
    """The behaviour a norm sentence is about, normalised (lower case, single spaces), or None when the
    sentence has no words to draw one from."""
    text = _LEADING.sub("", " ".join(sentence.split()))
    if not text:
        return None
    match = _IT_IS.search(_SENTENCE_END.split(text, maxsplit=1)[0] + ".") or _IT_IS.search(text)
    if match:
        negate = bool(match.group("neg")) != bool(match.group("neg2"))
        negate = negate != _negative(match.group("judge"))
        phrase = _with_negation(_trim(match.group("phrase")), negate)
    elif (match := _SUBJECT_IS.search(_SCENE.sub("", text))) is not None:
        negate = bool(match.group("neg")) != _negative(match.group("judge"))
        phrase = _with_negation(_trim(match.group("phrase")), negate)
    elif (match := _INVOLVES.search(text) or _MODAL.search(text)) is not None:
        phrase = _trim(match.group("phrase"))
    else:
        phrase = _trim(_SCENE.sub("", text))
    phrase = normalise_text(phrase)
    return phrase or normalise_text(_trim(text)) or None
